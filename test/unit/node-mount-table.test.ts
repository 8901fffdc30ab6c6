import test from 'ava'
import { findMount, isNewMount, isOurFuseMount, isReadOnlyMount, mountsAt, parseMountInfo, unescapeMountField } from '../../node-plugin/mount-table.js'

const SAMPLE = [
  '22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:13 - proc proc rw',
  '36 22 0:31 / /var/lib/kubelet/plugins/kubernetes.io/csi/ipfs.csi.dev/x/globalmount rw,nosuid,nodev,relatime shared:40 - fuse.ipfs-csi ipfs-csi:bafyabc rw,user_id=0,group_id=0,allow_other',
  '37 22 0:31 / /var/lib/kubelet/pods/p1/volumes/kubernetes.io~csi/x/mount ro,nosuid,nodev,relatime shared:40 - fuse.ipfs-csi ipfs-csi:bafyabc rw,user_id=0,group_id=0,allow_other',
  '38 22 8:1 /data /mnt/with\\040space rw,relatime master:1 propagate_from:2 - ext4 /dev/sda1 rw',
  'garbage line',
  '39 22 0:31 / /mnt/stack rw - tmpfs tmpfs rw',
  '40 39 0:32 / /mnt/stack rw - fuse.ipfs-csi ipfs-csi:w-1 rw'
].join('\n')

test('parses mountinfo lines, skipping malformed ones', (t) => {
  const table = parseMountInfo(SAMPLE)
  t.is(table.length, 6)
  const fuse = table[1]
  t.is(fuse?.fsType, 'fuse.ipfs-csi')
  t.is(fuse?.source, 'ipfs-csi:bafyabc')
  t.is(fuse?.root, '/')
  t.deepEqual(fuse?.options, ['rw', 'nosuid', 'nodev', 'relatime'])
})

test('several optional fields before the separator are handled', (t) => {
  const e = findMount(parseMountInfo(SAMPLE), '/mnt/with space')
  t.is(e?.fsType, 'ext4')
  t.is(e?.root, '/data')
  t.is(e?.source, '/dev/sda1')
})

test('octal escapes are undone', (t) => {
  t.is(unescapeMountField('a\\040b\\011c\\134d'), 'a b\tc\\d')
})

test('findMount normalizes trailing slashes and returns the top of a stack', (t) => {
  const table = parseMountInfo(SAMPLE)
  t.is(findMount(table, '/mnt/stack/')?.id, 40)
  t.is(mountsAt(table, '/mnt/stack').length, 2)
  t.is(findMount(table, '/mnt/nothing'), undefined)
})

test('read-only and ownership predicates', (t) => {
  const table = parseMountInfo(SAMPLE)
  t.false(isReadOnlyMount(table[1]!))
  t.true(isReadOnlyMount(table[2]!))
  t.true(isOurFuseMount(table[1]!))
  t.false(isOurFuseMount(table[0]!))
})

test('reads the real mount table of this process', async (t) => {
  const { readMountTable } = await import('../../node-plugin/mount-table.js')
  const table = await readMountTable()
  t.truthy(findMount(table, '/'), 'the root filesystem is listed')
})

test('isNewMount: a reused mount id at another place is a new mount; the same id, place and parent is not', (t) => {
  const before = parseMountInfo(SAMPLE)
  const bind = (line: string): Parameters<typeof isNewMount>[1] => parseMountInfo(line)[0] as Parameters<typeof isNewMount>[1]
  // id 37 was a bind in pod p1; p1's went and the kernel gave 37 to a bind in pod p2.
  t.true(isNewMount(before, bind('37 22 0:31 / /var/lib/kubelet/pods/p2/volumes/kubernetes.io~csi/y/mount ro,nosuid,nodev - fuse.ipfs-csi ipfs-csi:bafyabc rw')))
  t.true(isNewMount(before, bind('37 36 0:31 / /var/lib/kubelet/pods/p1/volumes/kubernetes.io~csi/x/mount ro - fuse.ipfs-csi ipfs-csi:bafyabc rw')), 'same place, other parent')
  t.true(isNewMount(before, bind('99 22 0:31 / /var/lib/kubelet/pods/p3/volumes/kubernetes.io~csi/z/mount ro - fuse.ipfs-csi ipfs-csi:bafyabc rw')), 'an id never seen')
  t.false(isNewMount(before, bind('37 22 0:31 / /var/lib/kubelet/pods/p1/volumes/kubernetes.io~csi/x/mount ro,nosuid,nodev - fuse.ipfs-csi ipfs-csi:bafyabc rw')))
})
