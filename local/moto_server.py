"""`python -m local.moto_server -H 127.0.0.1 -p PORT`: moto's server with DynamoDB's TransactWriteItems made atomic
and isolated, as the real service's is.

moto 5.2 runs a transaction by deep-copying every table it touches, applying the operations one at a time, and on
a cancelled condition putting the copies back, wholesale. Under the threaded server, a write that another request
made to the same table meanwhile - and the stream records it appended - vanishes when a transaction is cancelled,
which DynamoDB never does (a both-stacks-live test of the two syncs lost stream records to it; the copies also
cost a whole table per transaction). Here every DynamoDB write of the backend takes one lock, and a transaction
checks all its conditions first and then applies its operations under that lock, so nothing ever needs undoing.

It also ends at once on SIGTERM/SIGINT: moto's handler calls `sys.exit`, which then waits for every request thread
(boto3 keeps connections open), so a stop could take as long as the slowest client. Its state is in memory and
thrown away anyway. Everything else is moto as it is.
"""

from __future__ import annotations

import functools
import os
import threading
from typing import Any, Callable

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto import server

WRITES = threading.RLock()  # one DynamoDB write at a time (re-entrant: a transaction's writes call the others)
MAX_TRANSACTION_ITEMS = 100


def _serialised(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with WRITES:
            return method(*args, **kwargs)
    return locked


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """Every condition checked against the current items, then every operation applied; all under the write lock."""
    if len(transact_items) > MAX_TRANSACTION_ITEMS:
        raise TooManyTransactionsException()
    with WRITES:
        operations, seen, errors = [], set(), []
        for entry in transact_items:
            if len(entry) != 1:
                raise TransactWriteSingleOpException
            op_type, op = next(iter(entry.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table = self.get_table(op["TableName"])
            if op_type == "Put":
                key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = op["Item"][table.range_key_attr]
            else:
                key = op["Key"]
            identity = (op["TableName"], str(dict(sorted(key.items()))))
            if identity in seen:
                raise MultipleTransactionsException()
            seen.add(identity)
            condition = op.get("ConditionExpression")
            failed = False
            if condition is not None:
                current = self.get_item(op["TableName"], key)
                failed = not get_filter_expression(condition, op.get("ExpressionAttributeNames"),
                                                   op.get("ExpressionAttributeValues")).expr(current)
            errors.append(("ConditionalCheckFailed", "The conditional request failed", None) if failed
                          else (None, None, None))
            operations.append((op_type, op, key))
        if any(code is not None for code, _, _ in errors):
            raise TransactionCanceledException(errors)
        for op_type, op, key in operations:
            if op_type == "Put":
                self.put_item(op["TableName"], op["Item"])
            elif op_type == "Delete":
                self.delete_item(op["TableName"], key)
            elif op_type == "Update":
                self.update_item(op["TableName"], key, update_expression=op["UpdateExpression"],
                                 expression_attribute_names=op.get("ExpressionAttributeNames"),
                                 expression_attribute_values=op.get("ExpressionAttributeValues"),
                                 condition_expression=None)


def patch() -> None:
    for name in ("put_item", "update_item", "delete_item"):
        setattr(DynamoDBBackend, name, _serialised(getattr(DynamoDBBackend, name)))
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def _exit_now(signum: int, frame: Any) -> None:
    os._exit(0)


if __name__ == "__main__":
    patch()
    server.signal_handler = _exit_now  # main() installs this for SIGTERM and SIGINT
    server.main()
