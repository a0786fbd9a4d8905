// The peer side of the benchmarks: the official TypeScript SDK doing the same work as
// aibatch_bench. Prints one JSON line of figures, like aibatch_bench.
//   node bench.mjs results URL BATCH_ID
//   node bench.mjs create URL ITEMS
import Anthropic from '@anthropic-ai/sdk';

const [mode, url, arg] = process.argv.slice(2);
const client = new Anthropic({ apiKey: 'sk-ant-bench', baseURL: url, maxRetries: 2, timeout: 600000 });
const peakMb = () => process.resourceUsage().maxRSS / 1024;

// The same JSON Schema aibatch generates for SpamResult, and the same prompts.
const schema = {
  type: 'object',
  properties: { is_spam: { type: 'boolean' }, confidence: { type: 'number' }, reason: { type: 'string' } },
  required: ['is_spam', 'confidence', 'reason'],
  additionalProperties: false,
};
function prompt(i) {
  let t = `You are a spam detection expert. Is this email spam? Email ${i}: Dear customer, your parcel is waiting. Confirm delivery details at the link below to avoid return to sender.`;
  if (i % 50 === 7) t += '\nEMULATOR_RESULT: errored';
  return t;
}

if (mode === 'results') {
  const t0 = performance.now();
  let lines = 0, ok = 0, errored = 0, invalid = 0, spam = 0;
  for await (const r of await client.messages.batches.results(arg)) {
    lines++;
    if (r.result.type !== 'succeeded') { errored++; continue; }
    const block = r.result.message.content.find((c) => c.type === 'tool_use' && c.name === 'SpamResult');
    const input = block?.input;
    if (input && typeof input.is_spam === 'boolean' && typeof input.confidence === 'number' &&
        typeof input.reason === 'string') {
      ok++;
      if (input.is_spam) spam++;
    } else invalid++;
  }
  const seconds = (performance.now() - t0) / 1000;
  console.log(JSON.stringify({ what: 'results', seconds, lines, succeeded: ok, errored, invalid, spam, peak_rss_mb: peakMb() }));
} else if (mode === 'create') {
  const items = Number(arg);
  const t0 = performance.now();
  const requests = [];
  for (let i = 0; i < items; i++) {
    requests.push({
      custom_id: `item-${i}`,
      params: {
        model: 'claude-haiku-4-5',
        max_tokens: 256,
        messages: [{ role: 'user', content: prompt(i) }],
        tools: [{ name: 'SpamResult', description: 'Record the answer as a SpamResult object.', input_schema: schema }],
        tool_choice: { type: 'tool', name: 'SpamResult' },
      },
    });
  }
  const b = await client.messages.batches.create({ requests });
  const seconds = (performance.now() - t0) / 1000;
  const bodyMb = JSON.stringify({ requests }).length / 1e6;
  console.log(JSON.stringify({ what: 'create', seconds, body_mb: bodyMb, batch: b.id, peak_rss_mb: peakMb() }));
} else {
  console.error('usage: node bench.mjs results URL BATCH_ID | create URL ITEMS');
  process.exit(2);
}
