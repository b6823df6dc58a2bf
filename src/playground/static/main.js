// Wires the page: examples and models into the form, the form into POST /v1/score, and the
// response into the summary, the step table and the q curve. Rendering lives in render.js and
// chart.js; this file only keeps state and reacts to the user.
import { ApiError, listModels, saveApiKey, savedApiKey, score } from './api.js';
import { renderChart } from './chart.js';
import { EXAMPLES } from './examples.js';
import { installTooltip, renderSteps, renderSummary } from './render.js';

const $ = (id) => document.getElementById(id);
const form = $('trace-form');
const status = $('status');
let last = null; // {response, steps, aggregate} of the trace on screen

function setStatus(text, kind = '') {
  status.textContent = text;
  status.className = `status ${kind}`;
}

function fillExamples() {
  const select = $('example');
  select.append(new Option('Your own problem…', ''));
  EXAMPLES.forEach((ex, i) => select.append(new Option(ex.name, String(i))));
  select.addEventListener('change', () => {
    const ex = EXAMPLES[Number(select.value)];
    if (select.value === '' || !ex) return;
    $('prompt').value = ex.prompt;
    $('solution').value = ex.steps.join('\n');
  });
  select.value = '0';
  select.dispatchEvent(new Event('change'));
  // Editing the text makes it the user's own problem.
  for (const id of ['prompt', 'solution']) $(id).addEventListener('input', () => (select.value = ''));
}

async function fillModels() {
  const select = $('model');
  try {
    const { models, default_model: def } = await listModels($('api-key').value);
    select.replaceChildren(...models.map((m) => new Option(`${m.name}${m.reference_free ? ' (reference-free)' : ''}`, m.name)));
    if (def) select.value = def;
    $('beta').placeholder = String(models.find((m) => m.name === select.value)?.beta ?? 'model');
    select.onchange = () => ($('beta').placeholder = String(models.find((m) => m.name === select.value)?.beta ?? 'model'));
    if (models.length === 0) setStatus('No model is loaded yet; reload when the service is ready.', 'error');
    else setStatus('');
  } catch (err) {
    const needsKey = err instanceof ApiError && (err.status === 401 || err.status === 403);
    if (needsKey) $('trace-form').querySelector('details.connection').open = true;
    setStatus(needsKey ? 'This service needs an API key (Connection).' : `Could not list models: ${err.message}`, 'error');
  }
}

function draw() {
  if (!last) return;
  const colorBy = form.ownerDocument.querySelector('input[name="color-by"]:checked').value;
  const result = last.response.results[0];
  renderSummary($('summary'), last.response, last.aggregate);
  renderSteps($('steps').tBodies[0], last.steps, result, colorBy);
  renderChart($('chart'), last.steps, result);
  $('raw').textContent = JSON.stringify(last.response, null, 2);
  $('results').hidden = false;
}

async function onSubmit(event) {
  event.preventDefault();
  const steps = $('solution').value.split('\n').map((s) => s.replace(/\r$/, '')).filter((s) => s.trim() !== '');
  if (steps.length === 0) return setStatus('Write at least one step.', 'error');
  const betaText = $('beta').value.trim();
  const request = {
    model: $('model').value || undefined,
    prompt: $('prompt').value,
    steps,
    aggregate: $('aggregate').value,
    beta: betaText === '' ? undefined : Number(betaText),
  };
  const button = $('score');
  button.disabled = true;
  setStatus('Scoring…', 'busy');
  const t0 = performance.now();
  try {
    const response = await score(request, $('api-key').value);
    last = { response, steps, aggregate: request.aggregate };
    draw();
    setStatus(`Scored ${steps.length} steps in ${Math.round(performance.now() - t0)} ms.`, 'ok');
    document.body.dataset.scored = String(Number(document.body.dataset.scored ?? 0) + 1);
  } catch (err) {
    setStatus(err instanceof ApiError ? `${err.code}: ${err.message}` : String(err), 'error');
  } finally {
    button.disabled = false;
  }
}

$('api-key').value = savedApiKey();
$('api-key').addEventListener('change', () => {
  saveApiKey($('api-key').value);
  fillModels();
});
form.addEventListener('submit', onSubmit);
for (const radio of document.querySelectorAll('input[name="color-by"]')) radio.addEventListener('change', draw);
installTooltip($('tooltip'), document.body);
fillExamples();
fillModels();
