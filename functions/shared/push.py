"""Messages to a user's open WebSocket connections through the API's `@connections` endpoint.

A connection API Gateway no longer knows answers 410 Gone; it is removed from the table on the spot, so a stale id
costs one failed post at most (the TTL removes the rest).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass
class Pusher:
    dynamodb: Any
    connections_table: str
    management: Any  # boto3 `apigatewaymanagementapi` client on the stage's callback URL

    def to_user(self, user_id: str, message: dict[str, Any]) -> tuple[int, int]:
        """(delivered, gone) over every connection of the user."""
        delivered = gone = 0
        kwargs: dict[str, Any] = {"TableName": self.connections_table, "IndexName": "UserIndex",
                                  "KeyConditionExpression": "userId = :u",
                                  "ExpressionAttributeValues": {":u": {"S": user_id}}}
        while True:
            page = self.dynamodb.query(**kwargs)
            for item in page.get("Items", []):
                if self.to_connection(item["connectionId"]["S"], message):
                    delivered += 1
                else:
                    gone += 1
            if "LastEvaluatedKey" not in page:
                return delivered, gone
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def to_connection(self, connection_id: str, message: dict[str, Any]) -> bool:
        """True when delivered; False (and the connection forgotten) when the socket is gone."""
        try:
            self.management.post_to_connection(ConnectionId=connection_id,
                                               Data=json.dumps(message).encode())
            return True
        except self.management.exceptions.GoneException:
            self.dynamodb.delete_item(TableName=self.connections_table,
                                      Key={"connectionId": {"S": connection_id}})
            return False
