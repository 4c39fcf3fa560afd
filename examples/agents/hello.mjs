// Example agent "hello": every 10 s it counts its cycles in persisted state and sends a greeting
// to the "echo" agent over the bus. Self-contained ES module, as the contract requires.
export default {
  cycleSeconds: 10,
  timeoutSeconds: 5,
  async runCycle(ctx) {
    const count = (ctx.state.get('count') ?? 0) + 1;
    ctx.state.set('count', count);
    ctx.log.info('hello cycle', { cycle: ctx.cycle, count });
    await ctx.publish('greeting', { text: `hello #${count}`, count }, 'echo');
  },
};
