"""The production shape under faults: services killed, the broker and the database restarted, while
a carrier keeps posting; every accepted message must get exactly one reply."""
