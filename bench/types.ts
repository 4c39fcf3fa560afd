/** One figure of a benchmark run. */
export type BenchResult = { name: string; value: number; unit: string; note?: string };
