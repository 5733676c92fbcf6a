"""The cutover router's KeyValueStore keys, as pure data: the edge functions read them (components/edge_functions.py
puts them into the CloudFront Functions' code), the program seeds them (components/cutover.py) and the weight CLI
(`python -m migration.cutover`) changes them.
"""

from __future__ import annotations

KVS_WEIGHT_KEY = "weight"  # the share of new visitors sent to the new stack, 0-100
KVS_SALT_KEY = "salt"  # mixed into the visitor id's hash: a new salt reshuffles who is in which cohort
