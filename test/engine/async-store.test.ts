/**
 * Persistent collections with a store that answers with Promises, as Redis does: what rules
 * write between initcol and the end of the load (often in the same rule) counts from the
 * stored record, exactly as with a store that answers at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Waf } from '../../src/engine/index.js';
import { createMemoryStore } from '../../src/store/index.js';
import type { Store, StoredCollection } from '../../src/store/types.js';
import { runRequest } from '../support/request.js';

/** The memory store behind Promises that settle on a later turn of the event loop. */
function asyncStore(): Store {
  const inner = createMemoryStore();
  const later = <T>(v: T): Promise<T> => new Promise((r) => setImmediate(() => r(v)));
  return {
    ...inner,
    loadCollection: (c, k) => later(inner.loadCollection(c, k) as StoredCollection | null),
    saveCollection: (c, k, u) => later(inner.saveCollection(c, k, u) as void),
  };
}

test('async store: initcol with setvar in the same rule counts from the stored value; a rule on it fires', async () => {
  const store = asyncStore();
  const waf = Waf.fromText(
    `SecRuleEngine On
     SecAction "id:1,phase:1,pass,nolog,initcol:ip=%{REMOTE_ADDR},setvar:ip.hits=+1,setvar:ip.seen=yes,setvar:!ip.gone"
     SecAction "id:2,phase:1,pass,nolog,setvar:ip.hits=+1"
     SecRule IP:hits "@gt 4" "id:3,phase:1,deny,status:429"`,
    { store },
  );
  const statuses: number[] = [];
  for (let i = 0; i < 3; i++) statuses.push((await runRequest(waf, {})).interruption?.status ?? 200);
  assert.deepEqual(statuses, [200, 200, 429]);
  const stored = await store.loadCollection('ip', '192.0.2.10');
  assert.equal(stored?.get('hits')?.value, '6');
  assert.equal(stored?.get('seen')?.value, 'yes');
});
