"""The deploy rehearsal (`make rehearse STAGE=...`): everything `pulumi up` does before it talks to AWS, for real.

One module per check; each returns a `Result` (problems, one line each naming what is wrong, and figures).
`python -m rehearsal --stage prod` runs them all and exits 1 when any problem was found.
"""
