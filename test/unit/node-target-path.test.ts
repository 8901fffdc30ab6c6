import test from 'ava'
import { isKubeletStagingPath, isKubeletTarget, parseKubeletPath, volumeHandleHash } from '../../node-plugin/target-path.js'

const K = '/var/lib/kubelet'
const HASH = volumeHandleHash('bafy-volume')

test('kubelet\'s pod volume path is a publish target', (t) => {
  t.deepEqual(parseKubeletPath(K, `${K}/pods/0f3c1a2b-1111-2222-3333-444455556666/volumes/kubernetes.io~csi/pvc-1234/mount`), { kind: 'publish', podUid: '0f3c1a2b-1111-2222-3333-444455556666', volumeName: 'pvc-1234' })
  t.true(isKubeletTarget(K, `${K}/pods/uid/volumes/kubernetes.io~csi/inline-vol/mount`))
})

test('kubelet\'s staging paths: the SHA-256 of the volume handle per driver, and the legacy pv/<name> form', (t) => {
  t.is(HASH, '8f90f4b638442c5c7b3169558633d6f38427d73255f76aac8eda809a5b7818ce', 'sha256sum of the handle, as kubelet names it')
  t.deepEqual(parseKubeletPath(K, `${K}/plugins/kubernetes.io/csi/ipfs.csi.dev/${HASH}/globalmount`), { kind: 'stage', driver: 'ipfs.csi.dev', volumeHash: HASH })
  t.deepEqual(parseKubeletPath(K, `${K}/plugins/kubernetes.io/csi/pv/pvc-1/globalmount`), { kind: 'stage-legacy', pvName: 'pvc-1' })
  t.true(isKubeletStagingPath(K, `${K}/plugins/kubernetes.io/csi/ipfs.csi.dev/${HASH}/globalmount`, 'ipfs.csi.dev', 'bafy-volume'))
  t.false(isKubeletStagingPath(K, `${K}/plugins/kubernetes.io/csi/ipfs.csi.dev/${HASH}/globalmount`, 'ipfs.csi.dev', 'another-volume'), 'the hash names another volume')
  t.false(isKubeletStagingPath(K, `${K}/plugins/kubernetes.io/csi/other.driver/${HASH}/globalmount`, 'ipfs.csi.dev', 'bafy-volume'), 'another driver\'s dir')
})

test('anything else under the kubelet dir is none of kubelet\'s CSI paths', (t) => {
  const others = [
    K,
    `${K}/pods`,
    `${K}/pods/uid/volumes/kubernetes.io~csi/pvc-1`, // the volume dir, not its mount
    `${K}/pods/uid/volumes/kubernetes.io~csi/pvc-1/vol_data.json`,
    `${K}/pods/uid/volumes/kubernetes.io~empty-dir/cache/mount`, // another plugin's volume
    `${K}/pods/uid/volume-subpaths/pvc-1/c/0`,
    `${K}/pods/uid/volumes/kubernetes.io~csi/pvc-1/mount/inside`,
    `${K}/pods/../etc/volumes/kubernetes.io~csi/x/mount`,
    `${K}/pods/uid/volumes/kubernetes.io~csi/../mount`,
    `${K}/pods/uid/volumes/kubernetes.io~csi/pvc-1/mount/`,
    `${K}/pods/uid/volumes/kubernetes.io~csi/pv c/mount`,
    `${K}/plugins/kubernetes.io/csi/ipfs.csi.dev/not-a-hash/globalmount`,
    `${K}/plugins/kubernetes.io/csi/ipfs.csi.dev/${HASH.toUpperCase()}/globalmount`,
    `${K}/plugins/kubernetes.io/csi/ipfs.csi.dev/${HASH}/globalmount/x`,
    `${K}/plugins/kubernetes.io/csi/ipfs.csi.dev/${HASH}/vol_data.json`,
    `${K}/plugins/ipfs.csi.dev/csi.sock`,
    `${K}/plugins_registry/ipfs.csi.dev-reg.sock`,
    '/etc/pods/uid/volumes/kubernetes.io~csi/x/mount', // outside the kubelet dir
    `${K}-evil/pods/uid/volumes/kubernetes.io~csi/x/mount`,
    'pods/uid/volumes/kubernetes.io~csi/x/mount'
  ]
  for (const p of others) t.is(parseKubeletPath(K, p), undefined, p)
})

test('the kubelet dir may be given with a trailing slash', (t) => {
  t.is(parseKubeletPath(`${K}/`, `${K}/pods/u/volumes/kubernetes.io~csi/v/mount`)?.kind, 'publish')
})
