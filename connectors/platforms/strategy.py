"""The push engine's write step: which requests carry which numbers, by capabilities.

    outcomes = push(connector, items)   # one ItemOutcome per item, in order

- ABSOLUTE: each item is sent its target, `batch_max` a request.
- DELTA, and absolute writes that need what the channel holds (`read_before_write`): the
  items are read first, `read_max` a request; those already showing their target are done
  without a write; the others are sent with what was read (a delta is target minus it).
- COMPARE_AND_SET: each item is sent its target and the number it replaces: what the channel
  last confirmed (`PushItem.expected`), else what a read finds.

A write the channel answers "stale" (it moved since it was read or confirmed: a sale) is read
again and sent again, at most ROUNDS times in all; never forced. Neither Elastic Path nor
Zettle deduplicates a repeated request, so this is also why a delta whose answer was lost is
safe to try again later: the next push reads first.

No ORM here: the engine (connectors.services.push) stores what this returns. A
ConnectorError raised part-way carries the outcomes decided before it (`exc.outcomes`), so a
write that did land is confirmed, not retried as unknown.
"""

from dataclasses import replace

from connectors.exceptions import ConnectorError
from connectors.platforms.base import COMPARE_AND_SET, ItemOutcome, Write

ROUNDS = 3  # reads-then-writes per item while the channel keeps moving under us


def push(connector, items, *, still_ours=None, moved=None):
    """Bring each item to its quantity on the channel; one ItemOutcome per item.
    `still_ours(keys)`, before each write request: the keys the caller may still write (the
    engine's claims); the others are left out, not applied. `moved(items)`, when the first
    read finds items whose level is not what the channel last confirmed, and when the read
    after a stale answer finds the items it refused (a sale we may not have heard of yet):
    the caller takes in what the channel told it and returns {key: new quantity} for the
    items whose target changed meanwhile."""
    decided = {}
    todo = []
    for item in items:
        problem = connector.problem(item)
        if problem:
            decided[item.key] = ItemOutcome(item.key, False, None, problem)
        else:
            todo.append(item)
    try:
        for round_ in range(1, ROUNDS + 1):
            if not todo:
                break
            stale = _round(
                connector, todo, decided, first=round_ == 1, still_ours=still_ours, moved=moved
            )
            todo = stale
        for item in todo:  # still moving after every round: not applied, try again later
            decided[item.key] = ItemOutcome(
                item.key, False, None, decided.pop(item.key).message, retry=True
            )
    except ConnectorError as exc:
        exc.outcomes = [o for o in decided.values() if not o.stale]
        raise
    return [decided[i.key] for i in items]


def _needs_read(connector, items, first):
    caps = connector.capabilities
    if caps.reads_first:
        return list(items)
    if caps.writes == COMPARE_AND_SET:
        return [i for i in items if not first or i.expected is None]
    return []


def _round(connector, items, decided, *, first, still_ours, moved=None):
    """Read what needs reading, write what differs; return the items the channel answered
    stale (their outcome so far is in `decided`, replaced by the next round's)."""
    to_read = _needs_read(connector, items, first)
    levels = _read(connector, to_read, decided) if to_read else {}
    if moved is not None and levels:
        items = _after_moves(connector, items, levels, decided, moved)
    writes = []
    for item in items:
        if item.key in decided and not decided[item.key].stale:
            continue  # decided by the read (unknown, or already at its target)
        current = levels.get(item.key)
        expected = item.expected if item.key not in levels else current.raw
        writes.append(Write(item, connector.wire_target(item), current, expected))
    stale = []
    size = connector.capabilities.batch_max
    for start in range(0, len(writes), size):
        chunk = writes[start : start + size]
        if still_ours is not None:
            ours = still_ours([w.key for w in chunk])
            for write in chunk:
                if write.key not in ours:
                    decided[write.key] = ItemOutcome(
                        write.key, False, None, "taken over by another run", retry=True
                    )
            chunk = [w for w in chunk if w.key in ours]
            if not chunk:
                continue
        for outcome in connector.write(chunk):
            decided[outcome.key] = outcome
            if outcome.stale:
                stale.append(next(w.item for w in chunk if w.key == outcome.key))
    return stale


def _after_moves(connector, items, levels, decided, moved):
    """The items with the targets the caller has after taking in what moved the channel;
    those now showing their target are decided."""
    shifted = [
        item
        for item in items
        if item.key in levels
        and (
            # Refused as stale, and not at its target as read again: the channel moved.
            decided[item.key].stale
            if item.key in decided
            else item.expected is not None and levels[item.key].shown != item.expected
        )
    ]
    if not shifted:
        return items
    targets = moved(shifted)
    if not targets:
        return items
    fresh = []
    for item in items:
        if item.key in targets:
            item = replace(item, quantity=targets[item.key])
            level = levels[item.key]
            if level.shown == connector.shown(item, connector.wire_target(item)):
                decided[item.key] = ItemOutcome(item.key, True, level.shown)
        fresh.append(item)
    return fresh


def _read(connector, items, decided):
    """Read the items; decide those the channel does not know or that already show their
    target, and keep those outcomes on the read that decided them."""
    levels = {}
    size = connector.capabilities.read_max
    for start in range(0, len(items), size):
        chunk = items[start : start + size]
        first = len(connector.exchanges)
        found = connector.read(chunk)
        levels.update(found)
        by_read = []
        for item in chunk:
            level = found.get(item.key)
            if level is None:
                outcome = ItemOutcome(item.key, False, None, connector.unknown_item)
            elif level.shown == connector.shown(item, connector.wire_target(item)):
                outcome = ItemOutcome(item.key, True, level.shown)
            else:
                continue
            decided[item.key] = outcome
            by_read.append(outcome)
        reads = [e for e in connector.exchanges[first:] if e.purpose == "read"]
        if reads:
            record = reads[-1]
            record.items = [o.__dict__ for o in by_read]
            unknown = sum(not o.ok for o in by_read)
            if unknown:
                record.outcome = "rejected" if unknown == len(chunk) else "partial"
    return levels
