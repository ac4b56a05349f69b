/**
 * Prometheus text exposition format (version 0.0.4), as farmers, keepers and relays serve it on
 * `/metrics`: each metric its `# HELP` and `# TYPE` lines, then one line per label set.
 */
export class PrometheusText {
  readonly #lines: string[] = []

  /** Adds metric `name` with one sample per row: `[labels, value]`, labels as `{k="v"}` or ''. */
  readonly metric = (name: string, type: 'counter' | 'gauge', help: string, rows: ReadonlyArray<[string, number]>): void => {
    this.#lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
    for (const [labels, value] of rows) this.#lines.push(`${name}${labels} ${value}`)
  }

  /** The whole text, ending in a new line. */
  toString (): string {
    return this.#lines.join('\n') + '\n'
  }
}
