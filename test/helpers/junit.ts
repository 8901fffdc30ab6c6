// Just enough JUnit XML reading for Ginkgo's report: each testcase with its outcome.
export interface JunitCase { name: string, status: 'passed' | 'failed' | 'skipped', message: string }

const unescape = (s: string): string => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&apos;/g, "'").replace(/&#xA;/g, '\n').replace(/&amp;/g, '&')

export function parseJunit (xml: string): JunitCase[] {
  const cases: JunitCase[] = []
  const re = /<testcase\b([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g
  for (let m = re.exec(xml); m != null; m = re.exec(xml)) {
    const attrs = m[1] ?? ''
    const body = m[3] ?? ''
    const name = unescape(/\bname="([^"]*)"/.exec(attrs)?.[1] ?? '')
    const status = /<(failure|error)\b/.test(body) ? 'failed' : /<skipped\b/.test(body) || /status="(skipped|pending)"/.test(attrs) ? 'skipped' : 'passed'
    const message = unescape(/<(?:failure|error|skipped)\b[^>]*?message="([^"]*)"/.exec(body)?.[1] ?? '')
    cases.push({ name: name.replace(/^\[It\]\s*/, '').trim(), status, message })
  }
  return cases
}
