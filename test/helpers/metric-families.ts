// Every metric family the code registers, and the Prometheus test that shows it moving under
// real load (a selector that must have a series above zero). test/unit/metric-families.test.ts
// scans the source for family names and fails when one is in neither list, so a new family
// cannot ship without a test that moves it.

/** test/integration/monitoring.test.ts: node service, FUSE servers, fuse-host, controller with a Cluster, preloader, a mount. */
export const READ_PATH_FAMILIES: Record<string, string> = {
  'gRPC calls by method and code': 'ipfs_csi_grpc_requests_total{job="ipfs-csi-node",method="NodeStageVolume",code="OK"}',
  'gRPC calls that failed': 'ipfs_csi_grpc_requests_total{job="ipfs-csi-node",method="NodeStageVolume",code!="OK"}',
  'controller gRPC calls': 'ipfs_csi_grpc_requests_total{job="ipfs-csi-node",method="CreateVolume",code="OK"}',
  'gRPC latency histogram': 'ipfs_csi_grpc_request_duration_seconds_count{job="ipfs-csi-node",method="NodePublishVolume",code="OK"}',
  'gRPC calls in flight': 'ipfs_csi_grpc_requests_in_flight{job="ipfs-csi-node",method="NodeStageVolume"}',
  'volumes staged': 'ipfs_csi_node_volumes_staged{kind="content"}',
  'writable volumes staged': 'ipfs_csi_node_volumes_staged{kind="writable"}',
  'volumes published': 'ipfs_csi_node_volumes_published{kind="content"}',
  'reads served (volume label)': 'ipfs_csi_fuse_reads_total{job="ipfs-csi-node",volume!=""}',
  'bytes served': 'ipfs_csi_fuse_read_bytes_total{job="ipfs-csi-node"}',
  'bytes served by the mount': 'ipfs_csi_fuse_read_bytes_total{job="ipfs-csi-mount"}',
  'writes': 'ipfs_csi_fuse_writes_total{job="ipfs-csi-node",mode="writable"}',
  'bytes written': 'ipfs_csi_fuse_write_bytes_total{job="ipfs-csi-node",mode="writable"}',
  'read latency histogram': 'ipfs_csi_fuse_read_duration_seconds_count{job="ipfs-csi-node"}',
  'read latency buckets': 'ipfs_csi_fuse_read_duration_seconds_bucket{job="ipfs-csi-mount",le="+Inf"}',
  'blocks from disk': 'ipfs_csi_fuse_blocks_total{job="ipfs-csi-node",source="disk"}',
  'blocks over bitswap': 'ipfs_csi_fuse_blocks_total{job="ipfs-csi-mount-bitswap",source="bitswap"}',
  'blocks from the API': 'ipfs_csi_fuse_blocks_total{job="ipfs-csi-mount",source="api"}',
  'blocks from the block cache': 'ipfs_csi_fuse_blocks_total{source="cache"}',
  'block cache hits and misses': 'ipfs_csi_fuse_block_cache_requests_total{result="miss"}',
  'cache hit ratio (recording rule)': 'ipfs_csi:fuse_block_cache_hit_ratio:rate5m',
  'block cache bytes': 'ipfs_csi_fuse_block_cache_bytes{job="ipfs-csi-node"}',
  'block cache bound': 'ipfs_csi_fuse_block_cache_max_bytes{job="ipfs-csi-mount"}',
  'verification failures': 'ipfs_csi_fuse_verification_failures_total{job="ipfs-csi-node",source="disk"}',
  'EIO by cause': 'ipfs_csi_fuse_eio_total{job="ipfs-csi-node",cause="verification"}',
  'refused operations (ENOENT)': 'ipfs_csi_fuse_refused_ops_total{job="ipfs-csi-node"}',
  'read-ahead window': 'ipfs_csi_fuse_read_ahead_window_bytes{job="ipfs-csi-node"}',
  'read-ahead bytes': 'ipfs_csi_fuse_read_ahead_bytes_total',
  'open handles': 'ipfs_csi_fuse_open_handles{job="ipfs-csi-node"}',
  'FUSE server RSS': 'ipfs_csi_fuse_resident_memory_bytes{job="ipfs-csi-node"}',
  'FUSE server CPU': 'ipfs_csi_fuse_cpu_seconds_total{job="ipfs-csi-mount"}',
  'FUSE server start time': 'ipfs_csi_fuse_start_time_seconds{job="ipfs-csi-node"}',
  'FUSE servers answering': 'ipfs_csi_node_fuse_servers{state="answering"}',
  'heals': 'ipfs_csi_node_heals_total{result="healed"}',
  'fuse-host spawns': 'ipfs_csi_fuse_host_spawn_requests_total{result="started"}',
  'fuse-host exits by signal': 'ipfs_csi_fuse_host_server_exits_total{reason="signal"}',
  'fuse-host servers running': 'ipfs_csi_fuse_host_servers_running',
  'node cache size': 'ipfs_csi_node_cache_bytes',
  'node cache bound': 'ipfs_csi_node_cache_max_bytes',
  'node cache GC runs': 'ipfs_csi_node_cache_gc_runs_total',
  'Cluster peers': 'ipfs_csi_cluster_peers{state="ok"}',
  'Cluster pins': 'ipfs_csi_cluster_pins{state="ok"}',
  'Cluster last poll': 'ipfs_csi_cluster_last_poll_timestamp_seconds',
  'Cluster poll failures (the peer stopped)': 'ipfs_csi_cluster_poll_failures_total',
  'Kubo up (driver)': 'ipfs_csi_kubo_up{job="ipfs-csi-node"}',
  'Kubo up (preloader)': 'ipfs_csi_kubo_up{job="ipfs-csi-preloader"}',
  'preload state': 'ipfs_csi_preload_entry_state{entry="model",state="ready"}',
  'preload progress': 'ipfs_csi_preload_bytes_fetched{entry="model"}',
  'preload size': 'ipfs_csi_preload_bytes_total{entry="model"}',
  'preload blocks': 'ipfs_csi_preload_blocks_fetched{entry="dataset"}',
  'preload block total': 'ipfs_csi_preload_blocks_total{entry="dataset"}',
  'preload last block': 'ipfs_csi_preload_entry_last_block_timestamp_seconds{entry="dataset"}',
  'preload blocks downloaded': 'ipfs_csi_preload_blocks_downloaded_total',
  'preload bytes downloaded': 'ipfs_csi_preload_bytes_downloaded_total',
  'preload blocks already local': 'ipfs_csi_preload_blocks_local_total',
  'preload queue': 'ipfs_csi_preload_queue_size',
  'preload retries (content nobody has)': 'ipfs_csi_preload_retries_total',
  'preload failures (content nobody has, after its attempts)': 'ipfs_csi_preload_failures_total',
  'preload unpinned (entry removed)': 'ipfs_csi_preload_unpinned_total',
  'preload invalid entries': 'ipfs_csi_preload_invalid_entries',
  'preload desired file unreadable': 'ipfs_csi_preload_desired_file_error',
  'process metrics': 'process_resident_memory_bytes{job="ipfs-csi-node"}',
  'build info': 'ipfs_csi_build_info{job="ipfs-csi-fuse-host",component="fuse-host"}'
}

/** test/integration/monitoring-gateway.test.ts: the gateway's nginx (exporter), a gateway Kubo (relay), the API. */
export const GATEWAY_FAMILIES: Record<string, string> = {
  'gateway requests, 200 from the cache': 'ipfs_csi_gateway_requests_total{code="200",cache="HIT"}',
  'gateway requests, 200 from a Kubo': 'ipfs_csi_gateway_requests_total{code="200",cache="MISS"}',
  'gateway requests, 429': 'ipfs_csi_gateway_requests_total{code="429"}',
  'gateway requests, 502': 'ipfs_csi_gateway_requests_total{code="502"}',
  'gateway latency histogram': 'ipfs_csi_gateway_request_duration_seconds_count{cache="HIT"}',
  'gateway bytes': 'ipfs_csi_gateway_response_bytes_total{cache="MISS"}',
  'gateway rejected log lines': 'ipfs_csi_gateway_log_lines_rejected_total',
  'nginx up': 'ipfs_csi_gateway_nginx_up',
  'nginx connections': 'ipfs_csi_gateway_connections{state="active"}',
  'nginx connections accepted': 'ipfs_csi_gateway_connections_accepted_total',
  'nginx connections handled': 'ipfs_csi_gateway_connections_handled_total',
  'exporter build info': 'ipfs_csi_build_info{job="ipfs-gateway",component="gateway-exporter"}',
  'gateway Kubo GETs (its own metrics, relayed)': 'ipfs_http_gw_get_duration_seconds_count{job="ipfs-gateway-kubo"}',
  'API requests, 200': 'ipfs_csi_http_requests_total{server="api",code="200"}',
  'API requests, 5xx': 'ipfs_csi_http_requests_total{server="api",code=~"5.."}',
  'API requests, 429': 'ipfs_csi_http_requests_total{server="api",code="429"}',
  'API latency histogram': 'ipfs_csi_http_request_duration_seconds_count{server="api"}',
  'API Kubo up': 'ipfs_csi_kubo_up{job="ipfs-csi-api"}'
}

/** Families no Prometheus test moves, each with why and the test that covers it instead (none today). */
export const FAMILIES_COVERED_ELSEWHERE: Record<string, string> = {}

/** The family a selector reads: histogram suffixes dropped. */
export function familyOf (selector: string): string {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(selector)
  if (m === null) throw new Error(`not a selector: ${selector}`)
  return (m[1] as string).replace(/_(bucket|count|sum)$/, '')
}
