// The inline ephemeral volume policy: parsing (every problem reported), matching by namespace
// and by CID / IPNS name / model, and the file-backed check (no file, a bad file, a change).
import test from 'ava'
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { CID } from 'multiformats/cid'
import { CTX } from '../../driver/constants.js'
import { Code, CsiError } from '../../driver/errors.js'
import { createLogger } from '../../driver/logger.js'
import { allows, InlinePolicy, parseInlinePolicy } from '../../node-plugin/inline-policy.js'
import { volumeSourceOf } from '../../node-plugin/volume-source.js'

const CID0 = 'QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn'
const CID1 = 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku' // another content
const GiB = 1024 ** 3
const log = createLogger('error')

const inline = (attrs: Record<string, string>): ReturnType<typeof volumeSourceOf> => volumeSourceOf('csi-x', { [CTX.ephemeral]: 'true', ...attrs }, GiB)

const POLICY = `
allow:
  - namespaces: [ml-serving, research]
    cids: [${CID0}]
    ipns: [models.example.com]
    models: [llama, "bert:prod"]
  - namespaces: ["*"]
    cids: [${CID1}]
`

test('parse and match: namespace and content must both be named by one rule', (t) => {
  const p = parseInlinePolicy(POLICY)
  t.is(p.rules.length, 2)
  t.true(allows(p, 'ml-serving', inline({ [CTX.cid]: CID0 })))
  t.true(allows(p, 'research', inline({ [CTX.cid]: CID0, [CTX.path]: 'sub/dir' })), 'a path below an allowed root')
  t.true(allows(p, 'research', inline({ [CTX.cid]: CID.parse(CID0).toV1().toString() })), 'CIDv1 of an allowed CIDv0')
  t.false(allows(p, 'other', inline({ [CTX.cid]: CID0 })), 'namespace not named')
  t.true(allows(p, 'other', inline({ [CTX.cid]: CID1 })), '"*" namespace rule')
  t.true(allows(p, 'ml-serving', inline({ [CTX.ipns]: 'Models.Example.com' })))
  t.false(allows(p, 'ml-serving', inline({ [CTX.ipns]: 'evil.example.com' })))
  t.true(allows(p, 'ml-serving', inline({ [CTX.model]: 'llama:any-tag' })), 'a model name allows every tag')
  t.true(allows(p, 'ml-serving', inline({ [CTX.model]: 'bert:prod' })))
  t.false(allows(p, 'ml-serving', inline({ [CTX.model]: 'bert:dev' })), 'name:tag allows that tag only')
  t.false(allows(p, 'other', inline({ [CTX.model]: 'llama' })))
})

test('an empty file or an empty allow list allows nothing', (t) => {
  for (const text of ['', 'allow: []\n', '{"allow": []}']) t.false(allows(parseInlinePolicy(text), 'default', inline({ [CTX.cid]: CID0 })))
})

test('"*" in a content list allows any content of that kind for the rule\'s namespaces', (t) => {
  const p = parseInlinePolicy('allow:\n  - namespaces: [e2e]\n    cids: ["*"]\n')
  t.true(allows(p, 'e2e', inline({ [CTX.cid]: CID1 })))
  t.false(allows(p, 'e2e', inline({ [CTX.ipns]: 'models.example.com' })), 'cids "*" says nothing of IPNS names')
  t.false(allows(p, 'default', inline({ [CTX.cid]: CID1 })))
})

test('a bad policy is refused with every problem listed', (t) => {
  const err = t.throws(() => parseInlinePolicy(`
allow:
  - namespaces: [Bad_NS]
    cids: [nope]
    ipns: ["not a name"]
    models: ["../x"]
    extra: 1
  - cids: [${CID0}]
  - 3
`))
  for (const re of [/Bad_NS/, /allow\[0\]\.cids/, /allow\[0\]\.ipns/, /allow\[0\]\.models/, /unknown keys extra/, /allow\[1\] names no namespace/, /allow\[2\] must be a mapping/]) t.regex(err?.message ?? '', re)
  t.throws(() => parseInlinePolicy('allow: {}'), { message: /must be a list/ })
  t.throws(() => parseInlinePolicy('- a\n- b'), { message: /mapping/ })
  t.throws(() => parseInlinePolicy('allowed: []'), { message: /unknown keys allowed/ })
})

async function deniedCode (p: InlinePolicy, ns: string | undefined, attrs: Record<string, string>): Promise<number | 'ok'> {
  try {
    await p.check(inline(attrs), ns)
    return 'ok'
  } catch (err) {
    return err instanceof CsiError ? err.code : -1
  }
}

test('InlinePolicy: no file refuses with PERMISSION_DENIED; the file is read again when it changes; a broken file refuses all', async (t) => {
  t.is(await deniedCode(new InlinePolicy(undefined, log), 'ml-serving', { [CTX.cid]: CID0 }), Code.PERMISSION_DENIED)
  const dir = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-inline-policy-'))
  t.teardown(async () => await rm(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'policy.yaml')
  const policy = new InlinePolicy(file, log)
  t.is(await deniedCode(policy, 'ml-serving', { [CTX.cid]: CID0 }), Code.PERMISSION_DENIED, 'the file is missing')
  await writeFile(file, POLICY)
  t.is(await deniedCode(policy, 'ml-serving', { [CTX.cid]: CID0 }), 'ok')
  t.is(await deniedCode(policy, 'other', { [CTX.cid]: CID0 }), Code.PERMISSION_DENIED)
  t.is(await deniedCode(policy, undefined, { [CTX.cid]: CID0 }), Code.PERMISSION_DENIED, 'no pod namespace passed')
  // Replaced the way kubelet updates a ConfigMap volume (a new file renamed into place).
  await writeFile(path.join(dir, 'next'), 'allow:\n  - namespaces: [other]\n    cids: ["*"]\n')
  await rename(path.join(dir, 'next'), file)
  t.is(await deniedCode(policy, 'other', { [CTX.cid]: CID0 }), 'ok', 'the new policy applies')
  t.is(await deniedCode(policy, 'ml-serving', { [CTX.cid]: CID0 }), Code.PERMISSION_DENIED, 'the old one no longer does')
  await writeFile(path.join(dir, 'next'), 'allow: [[[')
  await rename(path.join(dir, 'next'), file)
  const err = await policy.check(inline({ [CTX.cid]: CID0 }), 'other').then(() => undefined, (e: CsiError) => e)
  t.is(err?.code, Code.PERMISSION_DENIED, 'a broken policy fails closed')
  t.regex(err?.message ?? '', /cannot be used/)
})
