// The independent judge: reads JSON cases on stdin, asks the official @bsv/sdk interpreter
// whether each input spends its output, and prints one verdict per case as JSON on stdout.
//
// Input:  {"cases": [{"name": "...", "tx": "<hex>", "input": 0,
//                     "spent": {"script": "<locking script hex>", "satoshis": 1000},
//                     "flags": "node" | "sdk-default"}]}
// Output: {"verdicts": [{"name": "...", "valid": true|false, "error": "..."|null}]}
//
// A case may instead ask for {"preimage_scope": <sighash type>}: the verdict then carries
// "preimage", the SDK's signature preimage for that type (the legacy one without FORKID),
// so the tests can sign what the Rust code deliberately cannot compute.
//
// "node" passes the BSV node's standard script flags after Genesis explicitly, so the SDK
// enforces what the node does (FORKID required, NULLFAIL, ...). "sdk-default" passes none, as
// most callers do: the SDK then skips some of those rules, and the Rust tests assert where.
import { Transaction, Spend, LockingScript, TransactionSignature, Utils } from '@bsv/sdk'

export const NODE_FLAGS = [
  'UTXO_AFTER_GENESIS', 'SIGHASH_FORKID', 'STRICTENC', 'DERSIG', 'LOW_S', 'NULLDUMMY',
  'SIGPUSHONLY', 'MINIMALDATA', 'CLEANSTACK', 'NULLFAIL'
].join(',')

function spendParams (c) {
  const tx = Transaction.fromHex(c.tx)
  const input = tx.inputs[c.input]
  if (input === undefined) throw new Error(`input ${c.input} does not exist`)
  return {
    sourceTXID: input.sourceTXID,
    sourceOutputIndex: input.sourceOutputIndex,
    sourceSatoshis: c.spent.satoshis,
    lockingScript: LockingScript.fromHex(c.spent.script),
    transactionVersion: tx.version,
    otherInputs: tx.inputs.filter((_, i) => i !== c.input),
    outputs: tx.outputs,
    inputIndex: c.input,
    unlockingScript: input.unlockingScript,
    inputSequence: input.sequence,
    lockTime: tx.lockTime
  }
}

function preimage (c) {
  const p = spendParams(c)
  return Utils.toHex(Array.from(TransactionSignature.formatBytes({
    ...p, subscript: p.lockingScript, scope: c.preimage_scope
  })))
}

function judge (c) {
  const params = spendParams(c)
  if (c.flags === 'node') params.verifyFlags = NODE_FLAGS
  else if (c.flags !== 'sdk-default') throw new Error(`unknown flags ${c.flags}`)
  return new Spend(params).validate()
}

let text = ''
process.stdin.setEncoding('utf8')
for await (const chunk of process.stdin) text += chunk
const { cases } = JSON.parse(text)
const verdicts = cases.map(c => {
  try {
    if (c.preimage_scope !== undefined) return { name: c.name, preimage: preimage(c) }
    return { name: c.name, valid: judge(c) === true, error: null }
  } catch (e) {
    return { name: c.name, valid: false, error: e instanceof Error ? e.message : String(e) }
  }
})
process.stdout.write(JSON.stringify({ verdicts }) + '\n')
