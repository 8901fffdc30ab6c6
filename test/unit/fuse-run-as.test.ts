// --fuse-run-as (docs/security.md item 9): the setting's validation on every command that takes
// it, how a server that drops root is started, and the mountinfo check of its unmount guard.
import test from 'ava'
import { ConfigError, parseServeConfig, validateRunAs } from '../../driver/config.js'
import { CLI_PATH, SETPRIV, serverCommand } from '../../node-plugin/fuse-process.js'
import { isMountedAs } from '../../node-plugin/fuse/unmount-guard.js'
import { parseMountArgs } from '../../node-plugin/fuse/mount-command.js'

const CID = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'

test('UID:GID is two non-zero numbers; unset or empty means stay root', (t) => {
  const problems: string[] = []
  t.deepEqual(validateRunAs(problems, '10001:10001'), { uid: 10001, gid: 10001 })
  t.deepEqual(validateRunAs(problems, '65534:100'), { uid: 65534, gid: 100 })
  t.is(validateRunAs(problems, undefined), undefined)
  t.is(validateRunAs(problems, ''), undefined)
  t.deepEqual(problems, [])
  for (const bad of ['0:0', '0:10001', '10001:0', '10001', 'nobody:nogroup', '10001:', '-1:5', '1.5:2', '4294967295:1', ' 10001:10001']) {
    const p: string[] = []
    t.is(validateRunAs(p, bad), undefined, bad)
    t.regex(p[0] ?? '', /--fuse-run-as must be UID:GID/, bad)
  }
})

test('serve: --fuse-run-as (or IPFS_CSI_FUSE_RUN_AS) for local servers; refused with a unix launcher', (t) => {
  const base = ['--mode', 'node', '--node-id', 'n1']
  t.deepEqual(parseServeConfig([...base, '--fuse-run-as', '10001:10001'], {}).fuseRunAs, { uid: 10001, gid: 10001 })
  t.deepEqual(parseServeConfig(base, { IPFS_CSI_FUSE_RUN_AS: '2000:3000' }).fuseRunAs, { uid: 2000, gid: 3000 })
  t.is(parseServeConfig(base, {}).fuseRunAs, undefined)
  const err = t.throws(() => parseServeConfig([...base, '--fuse-run-as', '10001:10001', '--fuse-launcher', 'unix:///run/fh.sock'], {}), { instanceOf: ConfigError }) as ConfigError
  t.regex(err.message, /set it on ipfs-csi fuse-host/)
  t.throws(() => parseServeConfig([...base, '--fuse-run-as', 'root'], {}), { instanceOf: ConfigError, message: /--fuse-run-as must be UID:GID/ })
})

test('mount: --fuse-run-as is validated with the other flags', (t) => {
  t.deepEqual(parseMountArgs([CID, '/mnt/x', '--fuse-run-as', '10001:10001'], {}).runAs, { uid: 10001, gid: 10001 })
  t.is(parseMountArgs([CID, '/mnt/x'], {}).runAs, undefined)
  t.throws(() => parseMountArgs([CID, '/mnt/x', '--fuse-run-as', '0:0'], {}), { instanceOf: ConfigError, message: /--fuse-run-as must be UID:GID/ })
})

test('a server that drops root starts through setpriv --no-new-privs when it is there, with --run-as', (t) => {
  const runAs = { uid: 10001, gid: 10002 }
  const viaSetpriv = serverCommand('/s/volumes/v/spec.json', 256, runAs, true)
  t.is(viaSetpriv.file, SETPRIV)
  t.deepEqual(viaSetpriv.args, ['--no-new-privs', '--', process.execPath, '--max-old-space-size=256', CLI_PATH, 'fuse-server', '--spec', '/s/volumes/v/spec.json', '--run-as', '10001:10002'])
  const without = serverCommand('/s/volumes/v/spec.json', undefined, runAs, false)
  t.is(without.file, process.execPath)
  t.deepEqual(without.args, [CLI_PATH, 'fuse-server', '--spec', '/s/volumes/v/spec.json', '--run-as', '10001:10002'])
  // No run-as: exactly as before, never through setpriv.
  t.deepEqual(serverCommand('/s/volumes/v/spec.json', undefined, undefined, true), { file: process.execPath, args: [CLI_PATH, 'fuse-server', '--spec', '/s/volumes/v/spec.json'] })
})

test('the unmount guard touches only the mount of its own filesystem name at its path', (t) => {
  const info = [
    '36 35 98:0 / /mnt/other rw,noatime master:1 - ext4 /dev/sda1 rw',
    '40 36 0:45 / /tmp/a\\040b rw,nosuid,nodev - fuse.ipfs-csi ipfs-csi:bafyx rw,user_id=0,group_id=0',
    ''
  ].join('\n')
  t.true(isMountedAs('/tmp/a b', 'ipfs-csi:bafyx', info))
  t.false(isMountedAs('/tmp/a b', 'ipfs-csi:other', info), 'another volume at that path')
  t.false(isMountedAs('/mnt/other', 'ipfs-csi:bafyx', info), 'another path')
  t.false(isMountedAs('/tmp/a', 'ipfs-csi:bafyx', info))
})
