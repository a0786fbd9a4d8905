// Conformance of aibatch-emulator, checked by the official TypeScript SDK: if the SDK
// can drive every Message Batches operation against the emulator and gets what it
// expects, the emulator speaks the API's wire format. Run by run_sdk_conformance.sh.
import Anthropic from '@anthropic-ai/sdk';
import assert from 'node:assert/strict';

const baseURL = process.env.EMULATOR_URL;
const apiKey = 'sk-ant-conformance';
const client = new Anthropic({ apiKey, baseURL, maxRetries: 0 });
let checks = 0;
const check = (cond, what) => { assert.ok(cond, what); checks++; };

const schema = {
  type: 'object',
  properties: {
    is_spam: { type: 'boolean' },
    confidence: { type: 'number', minimum: 0, maximum: 1 },
    reason: { type: 'string' },
  },
  required: ['is_spam', 'confidence', 'reason'],
  additionalProperties: false,
};
// Structured outputs take a JSON Schema subset without numeric bounds (the API answers
// them with a 400, and so does the emulator).
const nativeSchema = {
  ...schema,
  properties: { ...schema.properties, confidence: { type: 'number' } },
};
const toolRequest = (id, text) => ({
  custom_id: id,
  params: {
    model: 'claude-haiku-4-5',
    max_tokens: 256,
    messages: [{ role: 'user', content: text }],
    tools: [{ name: 'classify', description: 'Record the verdict', input_schema: schema }],
    tool_choice: { type: 'tool', name: 'classify' },
  },
});

async function waitEnded(id) {
  for (let i = 0; i < 400; i++) {
    const b = await client.messages.batches.retrieve(id);
    if (b.processing_status === 'ended') return b;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`batch ${id} did not end`);
}

// create
const created = await client.messages.batches.create({
  requests: [
    toolRequest('spam-1', 'WIN A FREE PRIZE NOW'),
    toolRequest('ham-1', 'See you at lunch tomorrow'),
    {
      custom_id: 'json-1',
      params: {
        model: 'claude-haiku-4-5',
        max_tokens: 256,
        messages: [{ role: 'user', content: 'classify' }],
        output_config: { format: { type: 'json_schema', schema: nativeSchema } },
      },
    },
    { custom_id: 'bad-model', params: { model: 'claude-unknown-0', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] } },
  ],
});
check(created.id.startsWith('msgbatch_'), 'create: id');
check(created.type === 'message_batch', 'create: type');
check(created.processing_status === 'in_progress', 'create: in_progress');
check(created.request_counts.processing === 4, 'create: processing count');
check(created.results_url === null, 'create: results_url null');

// retrieve
const retrieved = await client.messages.batches.retrieve(created.id);
check(retrieved.id === created.id && retrieved.created_at === created.created_at, 'retrieve');

// list with auto-pagination over many pages
const more = [];
for (let i = 0; i < 24; i++) {
  more.push((await client.messages.batches.create({ requests: [toolRequest(`m${i}`, `n ${i}`)] })).id);
}
const seen = [];
for await (const b of client.messages.batches.list({ limit: 5 })) seen.push(b.id);
check(seen.length === 25, `list: 25 batches over 5 pages, got ${seen.length}`);
check(new Set(seen).size === 25, 'list: no duplicates across pages');
check(seen[0] === more[more.length - 1], 'list: newest first');
check(seen[seen.length - 1] === created.id, 'list: oldest last');
const firstPage = await client.messages.batches.list({ limit: 5 });
check(firstPage.data.length === 5 && firstPage.has_more === true, 'list: one page');

// results once ended
const ended = await waitEnded(created.id);
check(ended.request_counts.succeeded === 3 && ended.request_counts.errored === 1, 'ended counts');
check(typeof ended.results_url === 'string', 'ended: results_url');
const results = {};
for await (const line of await client.messages.batches.results(created.id)) results[line.custom_id] = line.result;
check(Object.keys(results).length === 4, 'results: 4 lines');
for (const id of ['spam-1', 'ham-1']) {
  const r = results[id];
  check(r.type === 'succeeded', `${id}: succeeded`);
  const block = r.message.content[0];
  check(block.type === 'tool_use' && block.name === 'classify', `${id}: tool_use`);
  check(typeof block.input.is_spam === 'boolean' && typeof block.input.reason === 'string', `${id}: input shape`);
  check(r.message.stop_reason === 'tool_use', `${id}: stop_reason`);
  check(r.message.usage.service_tier === 'batch', `${id}: usage`);
}
const jsonText = JSON.parse(results['json-1'].message.content[0].text);
check(typeof jsonText.confidence === 'number', 'json_schema output parses');
check(results['bad-model'].type === 'errored', 'bad model errored');
check(results['bad-model'].error.type === 'error' && typeof results['bad-model'].error.error.message === 'string', 'errored shape');

// cancel
const toCancel = await client.messages.batches.create({ requests: [toolRequest('c1', 'x'), toolRequest('c2', 'y')] });
const canceling = await client.messages.batches.cancel(toCancel.id);
check(canceling.processing_status === 'canceling', 'cancel: canceling');
check(canceling.cancel_initiated_at !== null, 'cancel: cancel_initiated_at');
const canceled = await waitEnded(toCancel.id);
check(canceled.request_counts.canceled === 2, 'cancel: items canceled');

// delete
const deleted = await client.messages.batches.delete(created.id);
check(deleted.id === created.id && deleted.type === 'message_batch_deleted', 'delete');
await assert.rejects(client.messages.batches.retrieve(created.id), (e) => e instanceof Anthropic.NotFoundError);
checks++;

// errors are typed by the SDK from our bodies
const wrongKey = new Anthropic({ apiKey: 'sk-ant-wrong', baseURL, maxRetries: 0 });
await assert.rejects(wrongKey.messages.batches.list(), (e) => e instanceof Anthropic.AuthenticationError && e.status === 401);
checks++;
await assert.rejects(client.messages.batches.create({ requests: [] }), (e) => e instanceof Anthropic.BadRequestError);
checks++;

// single messages and token counting
const msg = await client.messages.create(toolRequest('x', 'hello').params);
check(msg.content[0].type === 'tool_use', 'messages.create');
const count = await client.messages.countTokens({ model: 'claude-haiku-4-5', messages: [{ role: 'user', content: 'hello' }] });
check(count.input_tokens > 0, 'countTokens');

console.log(`sdk conformance: ${checks} checks passed`);
