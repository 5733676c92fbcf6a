// Runs a CloudFront Function (cloudfront-js-2.0) under Node.js, as CloudFront would call it: the `cloudfront`
// module is a stand-in whose KeyValueStore reads a fixture and whose origin selection is recorded.
// Usage: node edge_harness.mjs FUNCTION.js < {"store": {...} | "unavailable" | "failing", "events": [...]}
//    or  ... < {"store": {...}, "share": {"weights": [..], "subjects": N}}
import { readFileSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';

const codePath = process.argv[2];
const input = JSON.parse(readFileSync(0, 'utf8'));
let store = input.store;
let selected = null;
globalThis.cloudfrontStandIn = {
  kvs() {
    if (store === 'unavailable') throw new Error('no KeyValueStore associated');
    return {
      async get(key) {
        if (store === 'failing') throw new Error('KeyValueStore read failed');
        if (!(key in store)) throw new Error(`key not found: ${key}`);
        return store[key];
      },
    };
  },
  selectRequestOriginById(id) { selected = id; },
};
const source = readFileSync(codePath, 'utf8')
  .replace("import cf from 'cloudfront';", 'const cf = globalThis.cloudfrontStandIn;') + '\nexport { handler };\n';
writeFileSync(codePath + '.mjs', source);
const { handler } = await import(pathToFileURL(codePath + '.mjs'));

async function run(event) {
  selected = null;
  const copy = JSON.parse(JSON.stringify(event));
  const result = await handler(copy);
  return { origin: selected, result };
}

if (input.events) {
  const results = [];
  for (const event of input.events) {
    try {
      results.push(await run(event));
    } catch (error) {
      results.push({ error: String(error) });
    }
  }
  console.log(JSON.stringify(results));
} else {
  // Share of subjects on the new stack per weight, plus stickiness: the same subjects at every weight (in rising
  // order), each asked twice. `movedBack`: on new at some weight, on legacy at a higher one.
  const { weights, subjects } = input.share;
  const ids = Array.from({ length: subjects }, () => 'v:' + randomUUID());
  const onNew = new Set();
  const out = { shares: {}, movedBack: 0, unstable: 0 };
  for (const weight of weights) {
    store = { ...input.store, weight: String(weight) };
    let count = 0;
    for (const id of ids) {
      const event = { viewer: { ip: '192.0.2.1' }, request: { method: 'GET', uri: '/api/v1/images', querystring: {},
        headers: {}, cookies: { 'mumble-vid': { value: id } } } };
      const first = await run(event);
      const second = await run(event);
      if (first.origin !== second.origin) out.unstable++;
      if (first.origin === null) {
        count++;
        onNew.add(id);
      } else if (onNew.has(id)) {
        out.movedBack++;
      }
    }
    out.shares[weight] = (100 * count) / subjects;
  }
  console.log(JSON.stringify(out));
}
