"""The event bus: one interface (`Bus`), two backends chosen by `PARLEY_BUS`."""

from libs.common.bus.base import DLQ_SUFFIX, Bus, BusUnavailable, Consumer, InvalidEvent, Record
from libs.common.config import Settings, group_instance_id


def make_bus(settings: Settings, client_id: str = "parley", worker: int | None = None) -> Bus:
    """The configured backend, not started. `worker`: this process's index when one host runs
    several worker processes of a service (each needs its own Kafka group.instance.id)."""
    backoff = settings.bus_retry_backoff_ms / 1000
    if settings.bus == "kafka":
        from libs.common.bus.kafka import KafkaBus
        from libs.common.bus.kafka_security import client_options

        return KafkaBus(settings.kafka_bootstrap, partitions=settings.partitions,
                        replication_factor=settings.kafka_replication_factor,
                        max_tries=settings.bus_max_tries, backoff_s=backoff,
                        topic_prefix=settings.topic_prefix, client_id=client_id,
                        publish_timeout_s=settings.publish_timeout_s,
                        security=client_options(settings),
                        instance_id=group_instance_id(settings, worker))
    from libs.common.bus.memory import MemoryBus

    return MemoryBus(partitions=settings.partitions, max_tries=settings.bus_max_tries,
                     backoff_s=backoff, topic_prefix=settings.topic_prefix)


__all__ = ["DLQ_SUFFIX", "Bus", "BusUnavailable", "Consumer", "InvalidEvent", "Record", "make_bus"]
