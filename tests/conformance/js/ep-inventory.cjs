// Calls one inventory method of Elastic Path's official JS SDK against a sandbox and prints
// what came back as one JSON line: {"ok": true, "body": ...} or {"ok": false, "error": ...}.
//
//   node ep-inventory.cjs <sandbox url> <Path.To.Method> [JSON arguments] [JSON modifiers]
//
// e.g. MultiLocationInventories.Locations.All '[]' '{"Limit": 1, "Offset": 1}'. The client
// id and secret come from EP_CLIENT_ID and EP_CLIENT_SECRET; the token is the SDK's own
// client_credentials request, kept in memory.
const { gateway, MemoryStorageFactory } = require('@elasticpath/js-sdk');

const [url, call, args = '[]', modifiers = '{}'] = process.argv.slice(2);
const { protocol, host } = new URL(url);
const client = gateway({
  client_id: process.env.EP_CLIENT_ID,
  client_secret: process.env.EP_CLIENT_SECRET,
  host,
  protocol: protocol.replace(':', ''),
  storage: new MemoryStorageFactory(),
  fetchMaxAttempts: 1, // a refusal is reported as it came, not retried
});

const names = call.split('.');
let target = client;
for (const name of names.slice(0, -1)) target = target[name];
for (const [name, value] of Object.entries(JSON.parse(modifiers))) target = target[name](value);

target[names[names.length - 1]](...JSON.parse(args))
  .then((body) => console.log(JSON.stringify({ ok: true, body })))
  .catch((error) => {
    const reported = error instanceof Error ? { message: error.message } : error;
    console.log(JSON.stringify({ ok: false, error: reported }));
  });
