"""Query cost and the leaky bucket of the Shopify sandbox (shopify.md §5.1).

Requested cost, from the document before it runs: a scalar or enum field 0, an object 1 plus
its selection, a connection 2 + (first or last) x its node's cost, a list of objects as many
times its element as the ids or names it was asked for (nodes(ids:), quantities(names:)),
or its `first` (Order.refunds(first:)), else once; every root field of a mutation 10,
whatever it selects. Actual cost: the same rules over what came back (a connection counts
the nodes it returned), refunded to the bucket. Limits checked on the way (top-level errors,
nothing runs): first/last above 250, an input list above 250 items, a connection without
first or last.
"""

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLList,
    InlineFragmentNode,
    get_named_type,
    get_nullable_type,
    is_leaf_type,
)
from graphql.execution.values import get_argument_values

from connectors.platforms.sandbox.limits import TokenBucket

MUTATION_COST = 10
MAX_COST = 1000
MAX_INPUT = 250


class CostError(Exception):
    """A top-level error found before execution: {"message", "extensions"}."""

    def __init__(self, message: str, code: str, **extra):
        super().__init__(message)
        self.error = {"message": message, "extensions": {"code": code, **extra}}


def is_connection(type_) -> bool:
    return get_named_type(type_).name.endswith("Connection")


class Coster:
    def __init__(self, schema, fragments: dict, variables):
        self.schema = schema
        self.fragments = fragments
        self.variables = variables

    def fields(self, selection_set, parent):
        """(field node, field definition, parent type) of a selection, fragments flattened
        (a type condition another type does not share still counts: an upper bound)."""
        for node in selection_set.selections if selection_set else ():
            if isinstance(node, FieldNode):
                name = node.name.value
                fields = getattr(parent, "fields", {})
                if name.startswith("__") or name not in fields:
                    continue
                yield node, fields[name], parent
            elif isinstance(node, InlineFragmentNode):
                cond = node.type_condition
                yield from self.fields(
                    node.selection_set, self.schema.get_type(cond.name.value) if cond else parent
                )
            elif isinstance(node, FragmentSpreadNode):
                fragment = self.fragments.get(node.name.value)
                if fragment is not None:
                    target = self.schema.get_type(fragment.type_condition.name.value)
                    yield from self.fields(fragment.selection_set, target)

    def args(self, definition, node) -> dict:
        args = get_argument_values(definition, node, self.variables)
        check_input_sizes(node.name.value, args)
        return args

    def requested(self, selection_set, parent) -> int:
        return sum(self.field(n, d) for n, d, _ in self.fields(selection_set, parent))

    def field(self, node, definition) -> int:
        type_ = definition.type
        named = get_named_type(type_)
        args = self.args(definition, node)
        if is_leaf_type(named):
            return 0
        if is_connection(type_):
            size = connection_size(node.name.value, args)
            return 2 + size * self.node_cost(node, named)
        sub = 1 + self.requested(node.selection_set, named)
        if isinstance(get_nullable_type(type_), GraphQLList):
            many = args.get("ids") or args.get("names")
            if isinstance(many, list):
                return sub * len(many)
            first = args.get("first")  # a list with a size (Order.refunds(first:))
            return sub * (first if isinstance(first, int) and first > 0 else 1)
        return sub

    def node_cost(self, node, connection) -> int:
        """A connection's cost per node: its `nodes` or `edges { node }` selection."""
        best = 0
        for child, definition, _ in self.fields(node.selection_set, connection):
            named = get_named_type(definition.type)
            if child.name.value == "nodes":
                best = max(best, 1 + self.requested(child.selection_set, named))
            elif child.name.value == "edges":
                for grand, grand_def, _ in self.fields(child.selection_set, named):
                    if grand.name.value == "node":
                        inner = get_named_type(grand_def.type)
                        best = max(best, 1 + self.requested(grand.selection_set, inner))
        return best

    # ------------------------------------------------------------- actual
    def actual(self, selection_set, parent, data) -> int:
        if not isinstance(data, dict):
            return 0
        total = 0
        for node, definition, _ in self.fields(selection_set, parent):
            key = node.alias.value if node.alias else node.name.value
            if key not in data:
                continue
            total += self.actual_field(node, definition, data[key])
        return total

    def actual_field(self, node, definition, value) -> int:
        named = get_named_type(definition.type)
        if is_leaf_type(named) or value is None:
            return 0
        if is_connection(definition.type):
            return 2 + self.actual_nodes(node, named, value)
        if isinstance(value, list):
            return sum(1 + self.actual(node.selection_set, named, v) for v in value if v)
        return 1 + self.actual(node.selection_set, named, value)

    def actual_nodes(self, node, connection, value) -> int:
        best = 0
        for child, definition, _ in self.fields(node.selection_set, connection):
            key = child.alias.value if child.alias else child.name.value
            named = get_named_type(definition.type)
            rows = value.get(key) if isinstance(value, dict) else None
            if not isinstance(rows, list):
                continue
            if child.name.value == "nodes":
                cost = sum(1 + self.actual(child.selection_set, named, r) for r in rows)
            elif child.name.value == "edges":
                cost = sum(self.actual(child.selection_set, named, r) for r in rows)
            else:
                continue
            best = max(best, cost)
        return best


def connection_size(field: str, args: dict) -> int:
    first, last = args.get("first"), args.get("last")
    if first is None and last is None:
        raise CostError("you must provide one of first or last", "BAD_REQUEST", field=field)
    for name, value in (("first", first), ("last", last)):
        if value is not None and not 0 <= value <= MAX_INPUT:
            raise CostError(
                f"The {name} argument of {field} must be between 0 and {MAX_INPUT}, not {value}.",
                "BAD_REQUEST",
                field=field,
            )
    return max(first or 0, last or 0)


def check_input_sizes(field: str, value) -> None:
    """Every input list (ids, quantities, changes, names) holds at most 250 items."""
    if isinstance(value, dict):
        for item in value.values():
            check_input_sizes(field, item)
    elif isinstance(value, list):
        if len(value) > MAX_INPUT:
            raise CostError(
                f"The input array size of {len(value)} is greater than the maximum allowed "
                f"of {MAX_INPUT}.",
                "MAX_INPUT_SIZE_EXCEEDED",
                field=field,
            )
        for item in value:
            check_input_sizes(field, item)


def requested_cost(schema, operation, fragments, variables) -> int:
    """Raises CostError for a limit; mutations cost 10 per root field (their inputs are
    still checked)."""
    root = schema.mutation_type if operation.operation.value == "mutation" else schema.query_type
    coster = Coster(schema, fragments, variables)
    if operation.operation.value == "mutation":
        fields = list(coster.fields(operation.selection_set, root))
        for node, definition, _ in fields:
            coster.args(definition, node)
        return MUTATION_COST * len(fields)
    return coster.requested(operation.selection_set, root)


def actual_cost(schema, operation, fragments, variables, data) -> int:
    root = schema.mutation_type if operation.operation.value == "mutation" else schema.query_type
    coster = Coster(schema, fragments, variables)
    if operation.operation.value == "mutation":
        fields = list(coster.fields(operation.selection_set, root))
        keys = [n.alias.value if n.alias else n.name.value for n, _, _ in fields]
        return MUTATION_COST * sum(1 for k in keys if (data or {}).get(k) is not None)
    requested = coster.requested(operation.selection_set, root)
    return min(requested, coster.actual(operation.selection_set, root, data))


def max_cost_error(cost: int) -> dict:
    return CostError(
        f"Query cost is {cost}, which exceeds the single query max cost limit ({MAX_COST}).\n\n"
        "See https://shopify.dev/concepts/about-apis/rate-limits for more information on how "
        "the cost of a query is calculated.\n\nTo query larger amounts of data with fewer "
        "limits, bulk operations should be used instead.\nSee "
        "https://shopify.dev/tutorials/perform-bulk-operations-with-admin-api for usage details.\n",
        "MAX_COST_EXCEEDED",
        cost=cost,
        maxCost=MAX_COST,
        documentation="https://shopify.dev/api/usage/rate-limits",
    ).error


THROTTLED_ERROR = {
    "message": "Throttled",
    "extensions": {
        "code": "THROTTLED",
        "documentation": "https://shopify.dev/api/usage/rate-limits",
    },
}


class LeakyBucket(TokenBucket):
    """Shopify's cost bucket: `capacity` points, `rate` restored per second; a query takes
    its requested cost and is refunded what it did not spend."""

    def refund(self, points: int) -> None:
        self.tokens = min(self.capacity, self.tokens + max(0, points))

    def resize(self, maximum=None, rate=None, available=None) -> None:
        self._refill()
        if maximum is not None:
            self.capacity = float(maximum)
        if rate is not None:
            self.rate = float(rate)
        if available is not None:
            self.tokens = float(available)
        self.tokens = min(self.tokens, self.capacity)

    def status(self) -> dict:
        self._refill()
        return {
            "maximumAvailable": float(self.capacity),
            "currentlyAvailable": int(self.tokens),
            "restoreRate": float(self.rate),
        }
