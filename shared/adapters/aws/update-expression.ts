/**
 * A DynamoDB UpdateExpression built clause by clause (SET / REMOVE / ADD), with its attribute
 * names and values, so that a write assembled from several parts (a completion: counters,
 * histogram, heartbeat, expectation, state keys) reads as those parts instead of four arrays.
 */
export class UpdateExpr {
  readonly names: Record<string, string> = {};
  readonly values: Record<string, unknown> = {};
  private readonly sets: string[] = [];
  private readonly removes: string[] = [];
  private readonly adds: string[] = [];
  private n = 0;

  /** `#alias` for an attribute name (the same alias for the same name) */
  name(attr: string): string {
    const found = Object.entries(this.names).find(([, v]) => v === attr);
    if (found) return found[0];
    const alias = `#n${this.n++}`;
    this.names[alias] = attr;
    return alias;
  }

  /** `:alias` for a value */
  value(v: unknown): string {
    const alias = `:v${this.n++}`;
    this.values[alias] = v;
    return alias;
  }

  /** SET attr = value */
  set(attr: string, v: unknown): this {
    this.sets.push(`${this.name(attr)} = ${this.value(v)}`);
    return this;
  }

  /** SET with a raw right-hand side (use name()/value() for its operands) */
  setExpr(attr: string, rhs: string): this {
    this.sets.push(`${this.name(attr)} = ${rhs}`);
    return this;
  }

  remove(...attrs: string[]): this {
    for (const a of attrs) this.removes.push(this.name(a));
    return this;
  }

  /** ADD attr value (numbers: increment) */
  add(attr: string, v: number): this {
    this.adds.push(`${this.name(attr)} ${this.value(v)}`);
    return this;
  }

  get expression(): string {
    return [
      this.sets.length ? `SET ${this.sets.join(', ')}` : '',
      this.removes.length ? `REMOVE ${this.removes.join(', ')}` : '',
      this.adds.length ? `ADD ${this.adds.join(', ')}` : '',
    ]
      .filter(Boolean)
      .join(' ');
  }

  /** The parts of an UpdateItem request (plus a condition's names and values, if given). */
  request(condition?: { expression: string; names?: Record<string, string>; values?: Record<string, unknown> }) {
    const names = { ...this.names, ...condition?.names };
    const values = { ...this.values, ...condition?.values };
    return {
      UpdateExpression: this.expression,
      ExpressionAttributeNames: names,
      ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
      ...(condition ? { ConditionExpression: condition.expression } : {}),
    };
  }
}
