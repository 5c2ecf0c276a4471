#!/usr/bin/env node
// An independent DSSE verifier for ChainLock rebuild attestations (PROTOCOL.md section 5),
// written from the DSSE v1 and in-toto specifications with node's built-in crypto only, so
// that the Rust implementation is checked by code that shares nothing with it.
//
// Usage: node dsse-verify.mjs ENVELOPE.json BUILDER_PUBLIC_KEY_HEX
// Prints one JSON line {"valid": true|false, "reason"?, "keyid", "subject"?} and exits 0 when
// the envelope is valid, 1 when it is not, 2 on a usage error.

import { createHash, createPublicKey, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';

const PAYLOAD_TYPE = 'application/vnd.in-toto+json';
// DER SubjectPublicKeyInfo for Ed25519 (RFC 8410) up to the 32 key bytes.
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

function pae(type, body) {
  const t = Buffer.from(type, 'utf8');
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${t.length} `, 'utf8'), t,
    Buffer.from(` ${body.length} `, 'utf8'), body,
  ]);
}

// Standard base64 with padding, and nothing node's lenient decoder would also accept.
function strictBase64(text, what) {
  if (typeof text !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
    throw new Error(`${what} is not standard base64`);
  }
  const bytes = Buffer.from(text, 'base64');
  if (bytes.toString('base64') !== text) throw new Error(`${what} is not canonical base64`);
  return bytes;
}

function check(envelope, publicKeyHex) {
  if (!/^[0-9a-f]{64}$/.test(publicKeyHex)) throw new Error('the public key must be 64 lowercase hex digits');
  const raw = Buffer.from(publicKeyHex, 'hex');
  const keyid = createHash('sha256').update(raw).digest('hex');
  const out = { keyid };
  const fail = (reason) => ({ valid: false, reason, ...out });
  if (envelope === null || typeof envelope !== 'object' || Array.isArray(envelope)) return fail('not a JSON object');
  const extra = Object.keys(envelope).filter((k) => !['payloadType', 'payload', 'signatures'].includes(k));
  if (extra.length) return fail(`unknown fields: ${extra.join(', ')}`);
  if (envelope.payloadType !== PAYLOAD_TYPE) return fail(`payloadType is ${JSON.stringify(envelope.payloadType)}`);
  if (!Array.isArray(envelope.signatures) || envelope.signatures.length !== 1) return fail('expected exactly one signature');
  const [sig] = envelope.signatures;
  if (sig.keyid !== keyid) return fail(`signature keyid ${sig.keyid} is not the key's ${keyid}`);
  let payload, signature;
  try {
    payload = strictBase64(envelope.payload, 'payload');
    signature = strictBase64(sig.sig, 'signature');
  } catch (e) {
    return fail(e.message);
  }
  const key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
  if (signature.length !== 64 || !verify(null, pae(envelope.payloadType, payload), key, signature)) {
    return fail('Ed25519 signature does not verify over the PAE');
  }
  let statement;
  try {
    statement = JSON.parse(payload.toString('utf8'));
  } catch (e) {
    return fail(`payload is not JSON: ${e.message}`);
  }
  if (statement._type !== 'https://in-toto.io/Statement/v1') return fail('not an in-toto Statement v1');
  if (statement.predicateType !== 'https://slsa.dev/provenance/v1') return fail('predicate is not SLSA provenance v1');
  if (!Array.isArray(statement.subject) || statement.subject.length !== 1) return fail('expected exactly one subject');
  const sha = statement.subject[0]?.digest?.sha256;
  if (!/^[0-9a-f]{64}$/.test(sha ?? '')) return fail('subject has no sha256 digest');
  const builderId = statement.predicate?.runDetails?.builder?.id;
  if (builderId !== `urn:chainlock:builder:ed25519:${publicKeyHex}`) return fail(`builder id ${builderId} is not this key`);
  const commit = statement.predicate?.buildDefinition?.externalParameters?.commit;
  return { valid: true, ...out, subject: { name: statement.subject[0].name, sha256: sha }, commit };
}

const [file, publicKeyHex] = process.argv.slice(2);
if (!file || !publicKeyHex) {
  console.error('usage: node dsse-verify.mjs ENVELOPE.json BUILDER_PUBLIC_KEY_HEX');
  process.exit(2);
}
let result;
try {
  result = check(JSON.parse(readFileSync(file, 'utf8')), publicKeyHex);
} catch (e) {
  result = { valid: false, reason: e.message };
}
console.log(JSON.stringify(result));
process.exit(result.valid ? 0 : 1);
