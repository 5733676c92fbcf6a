"""Finding an image item by its id alone: the table's key is (imageId, createdAt), and an id has one item."""

from __future__ import annotations

from typing import Any

from functions.shared.aws import from_item


def find_image(dynamodb: Any, table: str, image_id: str) -> dict[str, Any] | None:
    page = dynamodb.query(TableName=table, KeyConditionExpression="imageId = :i",
                          ExpressionAttributeValues={":i": {"S": image_id}}, Limit=1)
    return from_item(page["Items"][0]) if page.get("Items") else None
