"""Document the one error shape on every operation of the OpenAPI schema."""

ERROR_STATUSES = {
    "400": "The request is not valid (validation_error).",
    "401": "No token, or an invalid or expired one.",
    "403": "Authenticated, but not allowed (for example, not the poll's creator).",
    "404": "No such resource.",
    "409": "A business rule refused it (already_voted, poll_closed, option_has_votes, username_taken).",
    "429": "Throttled; details.retry_after_seconds says when to try again.",
}

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string", "example": "already_voted"},
                "message": {"type": "string", "example": "You have already voted in this poll."},
                "details": {"type": "object", "additionalProperties": True},
            },
        }
    },
}


def add_error_responses(result, generator, request, public):
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path in result.get("paths", {}).values():
        for operation in path.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for status, description in ERROR_STATUSES.items():
                operation["responses"].setdefault(status, {
                    "description": description,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                })
    return result
