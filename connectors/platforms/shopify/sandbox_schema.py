"""The subset of Shopify's GraphQL Admin schema the sandbox serves (shopify.md §2-§4, §6.2).

Hand-written SDL, parsed by graphql-core: a document that does not validate against it is
refused the way Shopify refuses it (errors[] at HTTP 200). Two shapes of the inventory
inputs: 2026-01 still takes `compareQuantity` and `ignoreCompareQuantity` (shopify.md
§1.3); 2026-04 and later do not (an unknown input field is a validation error there).
"""

from functools import cache

from graphql import GraphQLSchema, build_schema

CAS_OLD = """
  ignoreCompareQuantity: Boolean
"""
CAS_OLD_QUANTITY = """
  compareQuantity: Int
"""

SDL = """
directive @idempotent(key: String!) on FIELD

scalar DateTime
scalar URL
scalar JSON

interface Node { id: ID! }

type PageInfo {
  hasNextPage: Boolean!
  hasPreviousPage: Boolean!
  startCursor: String
  endCursor: String
}

type UserError { field: [String!] message: String! }

type Shop implements Node {
  id: ID!
  name: String!
  email: String
  myshopifyDomain: String!
  url: URL!
  currencyCode: String!
  ianaTimezone: String!
}

type ApiVersion { handle: String! displayName: String! supported: Boolean! }

type App { id: ID! title: String! handle: String }

type Location implements Node {
  id: ID!
  legacyResourceId: ID!
  name: String!
  isActive: Boolean!
  fulfillsOnlineOrders: Boolean!
  inventoryLevel(inventoryItemId: ID!): InventoryLevel
  inventoryLevels(first: Int, after: String, last: Int, before: String, query: String,
                  reverse: Boolean): InventoryLevelConnection!
}
type LocationEdge { node: Location! cursor: String! }
type LocationConnection { edges: [LocationEdge!]! nodes: [Location!]! pageInfo: PageInfo! }

type InventoryQuantity { id: ID! name: String! quantity: Int! updatedAt: DateTime }

type InventoryLevel implements Node {
  id: ID!
  quantities(names: [String!]!): [InventoryQuantity!]!
  item: InventoryItem!
  location: Location!
  createdAt: DateTime!
  updatedAt: DateTime!
  canDeactivate: Boolean!
}
type InventoryLevelEdge { node: InventoryLevel! cursor: String! }
type InventoryLevelConnection {
  edges: [InventoryLevelEdge!]! nodes: [InventoryLevel!]! pageInfo: PageInfo!
}

type InventoryItem implements Node {
  id: ID!
  legacyResourceId: ID!
  sku: String
  tracked: Boolean!
  requiresShipping: Boolean!
  createdAt: DateTime!
  updatedAt: DateTime!
  variant: ProductVariant
  inventoryLevel(locationId: ID!): InventoryLevel
  inventoryLevels(first: Int, after: String, last: Int, before: String, query: String,
                  reverse: Boolean): InventoryLevelConnection!
}
type InventoryItemEdge { node: InventoryItem! cursor: String! }
type InventoryItemConnection {
  edges: [InventoryItemEdge!]! nodes: [InventoryItem!]! pageInfo: PageInfo!
}

type ProductVariant implements Node {
  id: ID!
  legacyResourceId: ID!
  sku: String
  title: String!
  inventoryItem: InventoryItem!
}

type InventoryChange {
  name: String!
  delta: Int!
  quantityAfterChange: Int
  item: InventoryItem
  location: Location
  ledgerDocumentUri: String
}

type InventoryAdjustmentGroup implements Node {
  id: ID!
  createdAt: DateTime!
  reason: String!
  referenceDocumentUri: String
  app: App
  changes(inventoryItemIds: [ID!], locationIds: [ID!], quantityNames: [String!]):
    [InventoryChange!]!
}

type MoneyV2 { amount: String! currencyCode: String! }

type LineItem implements Node {
  id: ID!
  name: String!
  title: String!
  sku: String
  quantity: Int!
  currentQuantity: Int!
  unfulfilledQuantity: Int!
  refundableQuantity: Int!
  variant: ProductVariant
}
type LineItemEdge { node: LineItem! cursor: String! }
type LineItemConnection { edges: [LineItemEdge!]! nodes: [LineItem!]! pageInfo: PageInfo! }

type Order implements Node {
  id: ID!
  legacyResourceId: ID!
  name: String!
  createdAt: DateTime!
  updatedAt: DateTime!
  processedAt: DateTime!
  cancelledAt: DateTime
  closed: Boolean!
  displayFinancialStatus: String
  displayFulfillmentStatus: String!
  lineItems(first: Int, after: String, last: Int, before: String): LineItemConnection!
  refunds(first: Int): [Refund!]!
}
type OrderEdge { node: Order! cursor: String! }
type OrderConnection { edges: [OrderEdge!]! nodes: [Order!]! pageInfo: PageInfo! }

enum RefundLineItemRestockType { CANCEL LEGACY_RESTOCK NO_RESTOCK RETURN }

type RefundLineItem {
  id: ID
  quantity: Int!
  restockType: RefundLineItemRestockType!
  restocked: Boolean!
  lineItem: LineItem!
  location: Location
}
type RefundLineItemEdge { node: RefundLineItem! cursor: String! }
type RefundLineItemConnection {
  edges: [RefundLineItemEdge!]!
  nodes: [RefundLineItem!]!
  pageInfo: PageInfo!
}

type Refund implements Node {
  id: ID!
  legacyResourceId: ID!
  createdAt: DateTime
  note: String
  refundLineItems(first: Int, after: String, last: Int, before: String, reverse: Boolean):
    RefundLineItemConnection!
}

enum OrderSortKeys { CREATED_AT ID NUMBER PROCESSED_AT RELEVANCE UPDATED_AT }

enum WebhookSubscriptionTopic {
  ORDERS_CREATE ORDERS_UPDATED ORDERS_PAID ORDERS_FULFILLED ORDERS_PARTIALLY_FULFILLED
  ORDERS_CANCELLED ORDERS_DELETE REFUNDS_CREATE INVENTORY_LEVELS_UPDATE
  INVENTORY_LEVELS_CONNECT INVENTORY_LEVELS_DISCONNECT INVENTORY_ITEMS_CREATE
  INVENTORY_ITEMS_UPDATE INVENTORY_ITEMS_DELETE APP_UNINSTALLED
}
enum WebhookSubscriptionFormat { JSON XML }

type WebhookHttpEndpoint { callbackUrl: URL! }
type WebhookEventBridgeEndpoint { arn: String! }
type WebhookPubSubEndpoint { pubSubProject: String! pubSubTopic: String! }
union WebhookSubscriptionEndpoint =
  WebhookHttpEndpoint | WebhookEventBridgeEndpoint | WebhookPubSubEndpoint

type WebhookSubscription implements Node {
  id: ID!
  legacyResourceId: ID!
  topic: WebhookSubscriptionTopic!
  uri: String!
  callbackUrl: URL
  endpoint: WebhookSubscriptionEndpoint!
  format: WebhookSubscriptionFormat!
  includeFields: [String!]!
  metafieldNamespaces: [String!]!
  filter: String
  apiVersion: ApiVersion!
  createdAt: DateTime!
  updatedAt: DateTime!
}
type WebhookSubscriptionEdge { node: WebhookSubscription! cursor: String! }
type WebhookSubscriptionConnection {
  edges: [WebhookSubscriptionEdge!]! nodes: [WebhookSubscription!]! pageInfo: PageInfo!
}

type Query {
  shop: Shop!
  publicApiVersions: [ApiVersion!]!
  node(id: ID!): Node
  nodes(ids: [ID!]!): [Node]!
  location(id: ID): Location
  locations(first: Int, after: String, last: Int, before: String, query: String,
            includeInactive: Boolean, reverse: Boolean): LocationConnection!
  inventoryItem(id: ID!): InventoryItem
  inventoryItems(first: Int, after: String, last: Int, before: String, query: String,
                 reverse: Boolean): InventoryItemConnection!
  inventoryLevel(id: ID!): InventoryLevel
  order(id: ID!): Order
  orders(first: Int, after: String, last: Int, before: String, query: String,
         sortKey: OrderSortKeys, reverse: Boolean): OrderConnection!
  webhookSubscription(id: ID!): WebhookSubscription
  webhookSubscriptions(first: Int, after: String, last: Int, before: String,
                       topics: [WebhookSubscriptionTopic!], callbackUrl: URL, uri: String,
                       format: WebhookSubscriptionFormat, query: String):
    WebhookSubscriptionConnection!
}

input InventoryQuantityInput {
  inventoryItemId: ID!
  locationId: ID!
  quantity: Int!
  changeFromQuantity: Int
%(cas_quantity)s}

input InventorySetQuantitiesInput {
  name: String!
  reason: String!
  referenceDocumentUri: String
  quantities: [InventoryQuantityInput!]!
%(cas)s}

input InventoryChangeInput {
  inventoryItemId: ID!
  locationId: ID!
  delta: Int!
  changeFromQuantity: Int
  ledgerDocumentUri: String
}

input InventoryAdjustQuantitiesInput {
  name: String!
  reason: String!
  referenceDocumentUri: String
  changes: [InventoryChangeInput!]!
}

input InventoryItemInput { sku: String tracked: Boolean requiresShipping: Boolean }

input WebhookSubscriptionInput {
  uri: String
  callbackUrl: URL
  format: WebhookSubscriptionFormat
  includeFields: [String!]
  metafieldNamespaces: [String!]
  filter: String
}

enum InventorySetQuantitiesUserErrorCode {
  CHANGE_FROM_QUANTITY_STALE COMPARE_QUANTITY_REQUIRED COMPARE_QUANTITY_STALE
  IDEMPOTENCY_CONCURRENT_REQUEST IDEMPOTENCY_KEY_PARAMETER_MISMATCH
  IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED INVALID_INVENTORY_ITEM INVALID_LOCATION INVALID_NAME
  INVALID_QUANTITY_NEGATIVE INVALID_QUANTITY_TOO_HIGH INVALID_QUANTITY_TOO_LOW INVALID_REASON
  INVALID_REFERENCE_DOCUMENT ITEM_NOT_STOCKED_AT_LOCATION
  NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR NON_MUTABLE_INVENTORY_ITEM
}
type InventorySetQuantitiesUserError {
  field: [String!] message: String! code: InventorySetQuantitiesUserErrorCode
}
type InventorySetQuantitiesPayload {
  inventoryAdjustmentGroup: InventoryAdjustmentGroup
  userErrors: [InventorySetQuantitiesUserError!]!
}

enum InventoryAdjustQuantitiesUserErrorCode {
  ADJUST_QUANTITIES_FAILED CHANGE_FROM_QUANTITY_STALE IDEMPOTENCY_CONCURRENT_REQUEST
  IDEMPOTENCY_KEY_PARAMETER_MISMATCH INTERNAL_LEDGER_DOCUMENT INVALID_AVAILABLE_DOCUMENT
  INVALID_INVENTORY_ITEM INVALID_LEDGER_DOCUMENT INVALID_LOCATION INVALID_QUANTITY_DOCUMENT
  INVALID_QUANTITY_NAME INVALID_QUANTITY_TOO_HIGH INVALID_QUANTITY_TOO_LOW INVALID_REASON
  INVALID_REFERENCE_DOCUMENT ITEM_NOT_STOCKED_AT_LOCATION MAX_ONE_LEDGER_DOCUMENT
  NON_MUTABLE_INVENTORY_ITEM SERVICE_UNAVAILABLE
}
type InventoryAdjustQuantitiesUserError {
  field: [String!] message: String! code: InventoryAdjustQuantitiesUserErrorCode
}
type InventoryAdjustQuantitiesPayload {
  inventoryAdjustmentGroup: InventoryAdjustmentGroup
  userErrors: [InventoryAdjustQuantitiesUserError!]!
}

type InventoryActivatePayload { inventoryLevel: InventoryLevel userErrors: [UserError!]! }
type InventoryItemUpdatePayload { inventoryItem: InventoryItem userErrors: [UserError!]! }
type WebhookSubscriptionCreatePayload {
  webhookSubscription: WebhookSubscription userErrors: [UserError!]!
}
type WebhookSubscriptionUpdatePayload {
  webhookSubscription: WebhookSubscription userErrors: [UserError!]!
}
type WebhookSubscriptionDeletePayload {
  deletedWebhookSubscriptionId: ID userErrors: [UserError!]!
}

type Mutation {
  inventorySetQuantities(input: InventorySetQuantitiesInput!): InventorySetQuantitiesPayload
  inventoryAdjustQuantities(input: InventoryAdjustQuantitiesInput!):
    InventoryAdjustQuantitiesPayload
  inventoryActivate(inventoryItemId: ID!, locationId: ID!, available: Int, onHand: Int,
                    stockAtLegacyLocation: Boolean): InventoryActivatePayload
  inventoryItemUpdate(id: ID!, input: InventoryItemInput!): InventoryItemUpdatePayload
  webhookSubscriptionCreate(topic: WebhookSubscriptionTopic!,
                            webhookSubscription: WebhookSubscriptionInput!):
    WebhookSubscriptionCreatePayload
  webhookSubscriptionUpdate(id: ID!,
                            webhookSubscription: WebhookSubscriptionInput!):
    WebhookSubscriptionUpdatePayload
  webhookSubscriptionDelete(id: ID!): WebhookSubscriptionDeletePayload
}
"""


@cache
def schema(legacy_cas: bool) -> GraphQLSchema:
    """The schema of 2026-01 (legacy_cas: compareQuantity still exists) or of 2026-04 on."""
    return build_schema(
        SDL
        % {
            "cas": CAS_OLD if legacy_cas else "",
            "cas_quantity": CAS_OLD_QUANTITY if legacy_cas else "",
        }
    )
