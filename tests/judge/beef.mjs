// The independent BEEF judge: @bsv/sdk reads the BEEF the Rust code writes and verifies it
// against a chain tracker fed the Rust code's block headers; and @bsv/sdk writes BEEF of its
// own for the Rust decoder to read back byte for byte.
//
// Input (stdin): {"headers": ["<80-byte header hex>", ...height 0 first],
//                 "cases": [{"name": "...", "beef": "<hex>", "subject": "<txid>"}]}
// Output (stdout): {"headers_link": true|false,
//                   "verdicts": [{"name", "parsed", "error", "reencoded", "valid",
//                                 "verified", "subject_proven", "txids"}],
//                   "made": [{"name", "beef": "<hex>", "roots": {"<height>": "<root>"},
//                             "txids": [...]}]}
//
// `verified` is `Beef.verify(chainTracker)`: every transaction proven by a BUMP whose root is
// the merkle root of our header at its height, or by parents in the BEEF. `subject_proven`
// is `Transaction.fromBEEF(beef, subject)` then its merkle path verified with the same
// tracker. The tracker only knows roots it read out of our 80-byte headers, after checking
// that each header names the hash of the one before.
import { Beef, BEEF_V1, BEEF_V2, Transaction, MerklePath, PrivateKey, P2PKH, Hash, Utils } from '@bsv/sdk'

const input = JSON.parse(await new Promise(resolve => {
  let text = ''
  process.stdin.on('data', d => { text += d })
  process.stdin.on('end', () => resolve(text))
}))

const rev = bytes => Utils.toHex([...bytes].reverse())

// Our headers, read by hand: root at bytes 36..68, previous hash at 4..36.
const headers = (input.headers ?? []).map(h => Utils.toArray(h, 'hex'))
let headersLink = headers.every(h => h.length === 80)
for (let i = 1; i < headers.length && headersLink; i++) {
  headersLink = rev(headers[i].slice(4, 36)) === rev(Hash.hash256(headers[i - 1]))
}
const roots = headers.map(h => rev(h.slice(36, 68)))
const tracker = {
  isValidRootForHeight: async (root, height) => headersLink && roots[height] === root,
  currentHeight: async () => headers.length - 1
}

const verdicts = []
for (const c of input.cases ?? []) {
  const v = { name: c.name, parsed: false, error: null }
  try {
    const beef = Beef.fromString(c.beef, 'hex')
    v.parsed = true
    v.reencoded = beef.toHex() === c.beef
    v.valid = beef.isValid(false)
    v.verified = await beef.verify(tracker, false)
    v.txids = beef.txs.map(t => t.txid)
    if (c.subject) {
      const tx = Transaction.fromBEEF(Utils.toArray(c.beef, 'hex'), c.subject)
      v.subject_proven = tx.merklePath !== undefined &&
        await tx.merklePath.verify(tx.id('hex'), tracker)
    }
  } catch (e) {
    v.error = String(e?.message ?? e)
  }
  verdicts.push(v)
}

// BEEF made by the SDK from transactions it signs, with merkle paths over small blocks.
function pathFor (txids, index, height) {
  const path = []
  let row = txids
  let i = index
  for (let level = 0; row.length > 1; level++) {
    const leaves = []
    if (level === 0) leaves.push({ offset: i, hash: row[i], txid: true })
    const s = i ^ 1
    leaves.push(s < row.length ? { offset: s, hash: row[s] } : { offset: s, duplicate: true })
    leaves.sort((a, b) => a.offset - b.offset)
    path.push(leaves)
    const next = []
    for (let k = 0; k < row.length; k += 2) {
      const l = row[k]; const r = row[k + 1] ?? row[k]
      next.push(rev(Hash.hash256([...Utils.toArray(l, 'hex').reverse(), ...Utils.toArray(r, 'hex').reverse()])))
    }
    row = next
    i = i >> 1
  }
  return new MerklePath(height, path)
}

async function made () {
  const key = PrivateKey.fromString('17'.repeat(31) + '01', 'hex')
  const lock = new P2PKH().lock(key.toAddress())
  const fund = new Transaction(1, [{
    sourceTXID: '11'.repeat(32), sourceOutputIndex: 0,
    unlockingScript: new P2PKH().lock(key.toAddress()), sequence: 0xffffffff
  }], [{ satoshis: 5000, lockingScript: lock }, { satoshis: 3000, lockingScript: lock }], 0)
  const other = new Transaction(1, [{
    sourceTXID: '22'.repeat(32), sourceOutputIndex: 1,
    unlockingScript: new P2PKH().lock(key.toAddress()), sequence: 0xffffffff
  }], [{ satoshis: 1, lockingScript: lock }], 0)
  const spend = new Transaction(1, [{
    sourceTransaction: fund, sourceOutputIndex: 0,
    unlockingScriptTemplate: new P2PKH().unlock(key), sequence: 0xffffffff
  }], [{ satoshis: 4000, lockingScript: lock }], 0)
  await spend.sign()
  const blockA = ['aa'.repeat(32), fund.id('hex'), other.id('hex'), 'bb'.repeat(32), 'cc'.repeat(32)]
  fund.merklePath = pathFor(blockA, 1, 100)
  other.merklePath = pathFor(blockA, 2, 100)
  const out = []
  const rootsOf = beef => Object.fromEntries(beef.bumps.map(b => [b.blockHeight, b.computeRoot()]))
  // An unproven child with its proven parent, as Transaction.toBEEF writes it (V1).
  const v1 = Beef.fromBinary(spend.toBEEF())
  out.push({ name: 'sdk toBEEF v1', beef: Utils.toHex(spend.toBEEF()), roots: rootsOf(v1), txids: v1.txs.map(t => t.txid) })
  // Two transactions of one block merged into one compound BUMP, V1 and V2.
  for (const version of [BEEF_V1, BEEF_V2]) {
    const beef = new Beef(version)
    beef.mergeTransaction(fund)
    beef.mergeTransaction(other)
    beef.mergeTransaction(spend)
    out.push({ name: `sdk compound ${version === BEEF_V1 ? 'v1' : 'v2'}`, beef: beef.toHex(), roots: rootsOf(beef), txids: beef.txs.map(t => t.txid) })
  }
  // A proven child of 7 in a block: a path with a duplicated node.
  const blockB = ['01', '02', '03', '04', '05', '06'].map(b => b.repeat(32)).concat([spend.id('hex')])
  spend.merklePath = pathFor(blockB, 6, 101)
  const v1b = Beef.fromBinary(spend.toBEEF())
  out.push({ name: 'sdk proven v1', beef: Utils.toHex(spend.toBEEF()), roots: rootsOf(v1b), txids: v1b.txs.map(t => t.txid) })
  return out
}

process.stdout.write(JSON.stringify({ headers_link: headersLink, verdicts, made: await made() }) + '\n')
