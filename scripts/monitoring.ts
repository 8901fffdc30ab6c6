// deploy/monitoring/ipfs-csi.rules.yaml is the one source of the alerts; this generates the
// PrometheusRule of deploy/components/monitoring from it and checks everything around it:
//   node dist/scripts/monitoring.js           check (what `make test` runs through test/unit/monitoring.test.ts)
//   node dist/scripts/monitoring.js --write   regenerate deploy/components/monitoring/prometheusrule.yaml
// Checks: promtool check rules + promtool test rules (a firing and a silent case per alert),
// the PrometheusRule equals the rule file, every alert has a runbook section in
// docs/operations.md, and the Grafana dashboard is valid JSON whose every PromQL expression
// promtool parses (each becomes a recording rule of a throw-away rule file).
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { parse, stringify } from 'yaml'

const execFileP = promisify(execFile)

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
export const RULES = path.join(ROOT, 'deploy', 'monitoring', 'ipfs-csi.rules.yaml')
export const RULE_TESTS = path.join(ROOT, 'deploy', 'monitoring', 'ipfs-csi.rules.test.yaml')
export const PROMETHEUS_RULE = path.join(ROOT, 'deploy', 'components', 'monitoring', 'prometheusrule.yaml')
export const DASHBOARD = path.join(ROOT, 'deploy', 'components', 'monitoring', 'dashboard.json')
/** The public gateway and the API, on a dashboard of their own. */
export const GATEWAY_DASHBOARD = path.join(ROOT, 'deploy', 'components', 'monitoring', 'dashboard-gateway.json')
export const DASHBOARDS = [DASHBOARD, GATEWAY_DASHBOARD]
export const OPERATIONS = path.join(ROOT, 'docs', 'operations.md')

interface Rule { alert?: string, record?: string, expr: string }
interface RuleFile { groups: Array<{ name: string, rules: Rule[] }> }

export async function ruleFile (): Promise<RuleFile> {
  return parse(await readFile(RULES, 'utf8')) as RuleFile
}

export async function prometheusRuleText (): Promise<string> {
  const obj = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name: 'ipfs-csi', labels: { 'app.kubernetes.io/name': 'ipfs-csi' } },
    spec: await ruleFile()
  }
  return '# Generated from deploy/monitoring/ipfs-csi.rules.yaml by `make monitoring`: edit that file, not this one.\n' + stringify(obj, { lineWidth: 0 })
}

export async function promtool (args: string[], cwd = ROOT): Promise<{ ok: boolean, output: string }> {
  try {
    const { stdout, stderr } = await execFileP('promtool', args, { cwd, maxBuffer: 16 * 1024 * 1024, timeout: 120_000 })
    return { ok: true, output: stdout + stderr }
  } catch (err) {
    const e = err as { stdout?: string, stderr?: string, message: string }
    return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}${e.message}` }
  }
}

/** Every `expr` of the dashboards' panels (Grafana's variables left in). */
export async function dashboardExprs (): Promise<Array<{ panel: string, expr: string }>> {
  const out: Array<{ panel: string, expr: string }> = []
  for (const file of DASHBOARDS) {
    const dash = JSON.parse(await readFile(file, 'utf8')) as { panels: Array<{ title: string, targets?: Array<{ expr: string }> }> }
    out.push(...dash.panels.flatMap(p => (p.targets ?? []).map(t => ({ panel: `${path.basename(file)}: ${p.title}`, expr: t.expr }))))
  }
  return out
}

export function grafanaToPromql (expr: string, rateInterval = '1m'): string {
  return expr.replace(/\$__rate_interval|\$__interval/g, rateInterval).replace(/\$instance/g, '.*')
}

/** GitHub-style anchor of a markdown heading. */
const anchor = (heading: string): string => heading.trim().toLowerCase().replace(/[^a-z0-9 -]/g, '').replace(/ /g, '-')

export async function checkMonitoring (): Promise<string[]> {
  const problems: string[] = []
  const check = await promtool(['check', 'rules', RULES])
  if (!check.ok) problems.push(`promtool check rules: ${check.output}`)
  const tests = await promtool(['test', 'rules', path.basename(RULE_TESTS)], path.dirname(RULE_TESTS))
  if (!tests.ok) problems.push(`promtool test rules: ${tests.output}`)
  // One firing and one silent case per alert in the rule tests.
  const alerts = (await ruleFile()).groups.flatMap(g => g.rules).flatMap(r => r.alert !== undefined ? [r.alert] : [])
  const testDoc = parse(await readFile(RULE_TESTS, 'utf8')) as { tests: Array<{ alert_rule_test?: Array<{ alertname: string, exp_alerts?: unknown[] }> }> }
  const cases = testDoc.tests.flatMap(t => t.alert_rule_test ?? [])
  for (const a of alerts) {
    if (!cases.some(c => c.alertname === a && (c.exp_alerts ?? []).length > 0)) problems.push(`${a}: no rule test where it fires`)
    if (!cases.some(c => c.alertname === a && (c.exp_alerts ?? []).length === 0)) problems.push(`${a}: no rule test where it stays silent`)
  }
  if (await readFile(PROMETHEUS_RULE, 'utf8').catch(() => '') !== await prometheusRuleText()) problems.push(`${path.relative(ROOT, PROMETHEUS_RULE)} is not generated from the rule file: run make monitoring`)
  const ops = await readFile(OPERATIONS, 'utf8')
  const headings = new Set([...ops.matchAll(/^#{2,4} (.+)$/gm)].map(m => anchor(m[1] as string)))
  for (const a of alerts) if (!headings.has(a.toLowerCase())) problems.push(`${a}: no runbook section "### ${a}" in docs/operations.md`)
  // The dashboard: valid JSON, and each expression parses.
  let exprs: Array<{ panel: string, expr: string }> = []
  try { exprs = await dashboardExprs() } catch (err) { problems.push(`dashboards: ${(err as Error).message}`) }
  for (const file of DASHBOARDS) if (!exprs.some(e => e.panel.startsWith(`${path.basename(file)}: `))) problems.push(`${path.basename(file)} has no PromQL expressions`)
  problems.push(...await promqlProblems(exprs))
  return problems
}

/** PromQL (Grafana variables allowed) that promtool cannot parse: each becomes a recording rule of a throw-away rule file. */
export async function promqlProblems (exprs: Array<{ panel: string, expr: string }>): Promise<string[]> {
  const problems: string[] = []
  const dir = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-dashboard-'))
  try {
    for (const [i, e] of exprs.entries()) {
      const f = path.join(dir, `panel-${i}.yaml`)
      await writeFile(f, stringify({ groups: [{ name: 'dashboard', rules: [{ record: `dashboard:expr_${i}`, expr: grafanaToPromql(e.expr) }] }] }))
      const r = await promtool(['check', 'rules', f])
      if (!r.ok) problems.push(`dashboard panel "${e.panel}": ${e.expr}: ${r.output.split('\n').filter(l => /error|parse/i.test(l)).join(' ')}`)
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
  return problems
}

async function main (): Promise<number> {
  if (process.argv.includes('--write')) {
    await writeFile(PROMETHEUS_RULE, await prometheusRuleText())
    console.log(`wrote ${path.relative(ROOT, PROMETHEUS_RULE)}`)
  }
  const problems = await checkMonitoring()
  for (const p of problems) console.error(p)
  console.log(problems.length === 0 ? 'monitoring: rules, rule tests, PrometheusRule, runbooks and dashboard OK' : `monitoring: ${problems.length} problem(s)`)
  return problems.length === 0 ? 0 : 1
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main().then((code) => { process.exitCode = code }, (err: Error) => { console.error(err.stack); process.exitCode = 1 })
}
