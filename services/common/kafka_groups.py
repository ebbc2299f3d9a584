"""Deleting a Kafka consumer group (``DeleteGroups``, KIP-229), for per-replica groups.

aiokafka's admin client has no ``delete_consumer_groups``; this sends the protocol request
to the group's coordinator through it. A group can only be deleted once it has no member
(after the consumer stopped); an unknown group is fine (already gone).
"""

from __future__ import annotations

__all__ = ["GroupNotDeleted", "delete_group"]

_OK = 0
_GROUP_ID_NOT_FOUND = 69


class GroupNotDeleted(RuntimeError):
    """The coordinator refused to delete the group (e.g. it still has members)."""


async def delete_group(bootstrap: str, group: str, client_id: str = "earshot") -> None:
    """Delete consumer group ``group`` (its committed offsets go with it).

    Args:
        bootstrap: ``host:port[,host:port]``.
        group: the full group id (namespace prefix included).
        client_id: Kafka client id.

    Raises:
        GroupNotDeleted: the coordinator answered with an error other than "not found".
        aiokafka.errors.KafkaError: the broker cannot be reached.
    """
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.protocol.admin import DeleteGroupsRequest

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id=client_id)
    await admin.start()
    try:
        node = await admin.find_coordinator(group)
        # the admin client's own request path to one node (no public API for DeleteGroups)
        response = await admin._send_request_to_node(node, DeleteGroupsRequest([group]))
    finally:
        await admin.close()
    for name, error_code in response.results:
        if error_code not in (_OK, _GROUP_ID_NOT_FOUND):
            raise GroupNotDeleted(f"consumer group {name!r} not deleted: Kafka error code {error_code}")
