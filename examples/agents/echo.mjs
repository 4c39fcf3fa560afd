// Example agent "echo": receives greetings addressed to it (and anything on topic "greeting")
// and remembers the last one; its own cycle just reports how many it has seen.
export default {
  cycleSeconds: 30,
  timeoutSeconds: 5,
  subscriptions: ['greeting'],
  async onEnvelope(envelope, ctx) {
    const seen = (ctx.state.get('seen') ?? 0) + 1;
    ctx.state.set('seen', seen);
    ctx.state.set('last', envelope.payload);
    ctx.log.info('echo received', { from: envelope.sender, payload: envelope.payload, seen });
  },
  async runCycle(ctx) {
    ctx.log.info('echo cycle', { seen: ctx.state.get('seen') ?? 0 });
  },
};
