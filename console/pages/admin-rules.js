// The administrator's rules (`#/admin/rules`): the rule set in force, a reload of the rule
// files (the result, or every mistake with its file, line and column; the rules in force
// stay), and re-screening the registry with the rules in force, followed while it runs
// (`?run=<id>` keeps the run in the link).

import * as api from '../api.js';
import { ltr, showDate, showTime, t } from '../i18n.js';
import { ErrorSummary, Field, LoadError, Loading, PageTitle, Table, announce, html, problemText, useEffect, useLoad, useState } from '../lib/ui.js';
import { DateField, Mark, dateOk, districtName, districtOptions, go, isoOf, problemErrors, reference, schemeName } from './schemes.js';
import * as catalogue from '../lib/schemes.js';

function RulesInfo({ info }) {
  return html`<dl class="summary-list" data-testid="rules-info">
    <dt>${t('rules.version')}</dt><dd><code data-testid="rules-version">${ltr(info.version)}</code></dd>
    <dt>${t('rules.loaded_at')}</dt><dd>${showTime(info.loaded_at)}</dd>
    <dt>${t('rules.schemes')}</dt><dd>${ltr(info.schemes)}</dd>
    <dt>${t('rules.criteria')}</dt><dd>${ltr(info.criteria)}</dd>
    <dt>${t('rules.examples')}</dt><dd>${ltr(info.examples)}</dd>
  </dl>`;
}

export function RulesPage({ route }) {
  const [info, error, reloadInfo] = useLoad(() => api.get('/api/v1/rules'), []);
  const [ref] = useLoad(() => reference().catch(() => null), []);
  const [current, setCurrent] = useState(null);
  useEffect(() => setCurrent(info), [info]);
  const [rescreen, setRescreen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState(null); // {ok, info, previous} | {ruleErrors} | {message}

  const reload = async (e) => {
    e.preventDefault();
    setBusy(true);
    setOutcome(null);
    const previous = current?.version;
    try {
      const res = await api.post('/api/v1/rules/reload', undefined, { query: rescreen ? { rescreen: 'true' } : undefined });
      const data = res.data;
      // The catalogue cache (lib/schemes.js) is dropped if that module offers a way to.
      catalogue.forgetSchemes?.();
      setCurrent(data);
      setOutcome({ ok: true, info: data, previous });
      announce(data.version === previous ? t('rules.reloaded_same') : t('rules.reloaded_new'));
      if (data.rescreen?.id) go('/admin/rules', { run: data.rescreen.id });
    } catch (err) {
      if (err.status === 422) {
        setOutcome({ ruleErrors: err.errors || [] });
        announce(t('rules.refused'), 'error');
      } else if (err.status === 409) {
        // Reloaded, but a re-screening job was already running.
        reloadInfo();
        setOutcome({ message: t('rules.reloaded_job_running') });
      } else {
        setOutcome({ message: problemText(err) });
      }
    } finally {
      setBusy(false);
    }
  };

  return html`<div>
    <${PageTitle} sub=${t('rules.lead')}>${t('rules.title')}</${PageTitle}>
    <section aria-labelledby="rules-now-title">
      <h2 id="rules-now-title">${t('rules.in_force')}</h2>
      ${error ? html`<${LoadError} error=${error} retry=${reloadInfo} />` : null}
      ${!current && !error ? html`<${Loading} />` : null}
      ${current ? html`<${RulesInfo} info=${current} />` : null}
      <p><a href="#/schemes">${t('rules.see_catalogue')}</a></p>
    </section>

    <section aria-labelledby="rules-reload-title">
      <h2 id="rules-reload-title">${t('rules.reload_title')}</h2>
      <p>${t('rules.reload_lead')}</p>
      ${outcome?.ok
        ? html`<div class="notice notice-ok" role="status" data-testid="reload-result">
            <p><${Mark} kind="good" label=${outcome.info.version === outcome.previous ? t('rules.reloaded_same') : t('rules.reloaded_new')} /></p>
            ${outcome.previous && outcome.previous !== outcome.info.version
              ? html`<p>${t('rules.was')} <code>${ltr(outcome.previous)}</code></p>`
              : null}
            <${RulesInfo} info=${outcome.info} />
          </div>`
        : null}
      ${outcome?.ruleErrors
        ? html`<div class="notice notice-error" role="alert" data-testid="reload-errors">
            <p><${Mark} kind="bad" label=${t('rules.refused')} /></p>
            <p>${t('rules.refused_body', { n: outcome.ruleErrors.length })}</p>
            <ul class="rule-errors">
              ${outcome.ruleErrors.map(
                (x) => html`<li><code dir="ltr" lang="en">${x.field}</code> — <bdi dir="ltr" lang="en">${x.message}</bdi></li>`,
              )}
            </ul>
          </div>`
        : null}
      ${outcome?.message ? html`<div class="notice notice-error" role="alert" data-testid="reload-message">${outcome.message}</div>` : null}
      <form onSubmit=${reload} novalidate>
        <div class="check">
          <input type="checkbox" id="f-reload-rescreen" checked=${rescreen} onChange=${(e) => setRescreen(e.target.checked)}
            aria-describedby="f-reload-rescreen-hint" data-testid="reload-rescreen" />
          <label for="f-reload-rescreen">${t('rules.with_rescreen')}</label>
        </div>
        <p class="hint" id="f-reload-rescreen-hint">${t('rules.with_rescreen_hint')}</p>
        <button class="button" type="submit" disabled=${busy} data-testid="reload-rules">${busy ? t('rules.reloading') : t('rules.reload')}</button>
      </form>
    </section>

    <${Rescreen} runId=${route.query.run} refData=${ref} />
  </div>`;
}

function Rescreen({ runId, refData }) {
  const [form, setForm] = useState({ as_of: '', district: '' });
  const [errors, setErrors] = useState([]);
  const [busy, setBusy] = useState(false);
  const labels = { 'rescreen.as_of': t('rules.rescreen_as_of'), 'rescreen.district': t('rules.rescreen_district') };
  const err = (p) => errors.find((e) => e.path === p)?.message;
  const start = async (e) => {
    e.preventDefault();
    if (!dateOk(form.as_of)) {
      setErrors([{ path: 'rescreen.as_of', label: labels['rescreen.as_of'], message: t('roles.bad_date') }]);
      return;
    }
    setErrors([]);
    setBusy(true);
    const body = {};
    if (isoOf(form.as_of)) body.as_of = isoOf(form.as_of);
    if (form.district) body.district = form.district;
    try {
      const res = await api.post('/api/v1/rescreens', body);
      announce(t('rules.rescreen_started'));
      go('/admin/rules', { run: res.data.id });
    } catch (err2) {
      if (err2.status === 422) {
        setErrors(problemErrors(err2).map((x) => ({ ...x, path: `rescreen.${x.path}`, label: labels[`rescreen.${x.path}`] || '' })));
      } else if (err2.status === 409) {
        setErrors([{ path: 'rescreen.as_of', label: '', message: t('rules.rescreen_running') }]);
      } else {
        setErrors([{ path: 'rescreen.as_of', label: '', message: problemText(err2) }]);
      }
    } finally {
      setBusy(false);
    }
  };
  return html`<section aria-labelledby="rescreen-title">
    <h2 id="rescreen-title">${t('rules.rescreen_title')}</h2>
    <p>${t('rules.rescreen_lead')}</p>
    ${runId ? html`<${RunProgress} id=${runId} refData=${refData} />` : null}
    <form onSubmit=${start} novalidate class="narrow">
      <${ErrorSummary} errors=${errors} />
      <${DateField} path="rescreen.as_of" label=${labels['rescreen.as_of']} hint=${t('rules.rescreen_as_of_hint')} value=${form.as_of}
        onInput=${(v) => setForm((f) => ({ ...f, as_of: v }))} error=${err('rescreen.as_of')} data-testid="rescreen-as-of" />
      <${Field} path="rescreen.district" kind="select" label=${labels['rescreen.district']} value=${form.district}
        onInput=${(v) => setForm((f) => ({ ...f, district: v ?? '' }))} error=${err('rescreen.district')} data-testid="rescreen-district"
        options=${districtOptions({ districts: (refData?.districts || []).filter((d) => d.active) }, t('rules.all_districts'))} />
      <button class="button secondary" type="submit" disabled=${busy} data-testid="start-rescreen">${t('rules.rescreen_start')}</button>
    </form>
  </section>`;
}

/** A re-screening run, read again every two seconds while it runs. */
function RunProgress({ id, refData }) {
  const [run, setRun] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    let live = true;
    let timer = null;
    const poll = async () => {
      try {
        const r = await api.get(`/api/v1/rescreens/${encodeURIComponent(id)}`);
        if (!live) return;
        setRun(r);
        setError(null);
        if (r.status === 'running') timer = setTimeout(poll, 2000);
        else announce(t('rules.rescreen_done'));
      } catch (e) {
        if (!live) return;
        setError(e);
        if (e instanceof api.NetworkError) timer = setTimeout(poll, 5000);
      }
    };
    setRun(null);
    poll();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [id]);
  if (error && !run) return html`<${LoadError} error=${error} />`;
  if (!run) return html`<${Loading} />`;
  const running = run.status === 'running';
  const summary = Object.entries(run.summary || {});
  return html`<div class="notice" data-testid="rescreen-status" data-status=${run.status}>
    <p>${running ? html`<${Mark} kind="warn" label=${t('rules.run_running')} />` : html`<${Mark} kind="good" label=${t('rules.run_done')} />`}</p>
    <dl class="summary-list">
      <dt>${t('rules.run_processed')}</dt><dd aria-live="polite" data-testid="rescreen-processed">${ltr(run.processed)}</dd>
      <dt>${t('rules.run_written')}</dt><dd>${ltr(run.written)}</dd>
      <dt>${t('rules.rescreen_as_of')}</dt><dd>${showDate(run.as_of)}</dd>
      <dt>${t('rules.rescreen_district')}</dt><dd>${run.district ? html`<bdi>${districtName(refData, run.district)}</bdi>` : t('rules.all_districts')}</dd>
      <dt>${t('rules.version')}</dt><dd><code>${ltr(String(run.rules_version).slice(0, 16))}</code></dd>
      <dt>${t('rules.run_started')}</dt><dd>${showTime(run.started_at)}</dd>
      <dt>${t('rules.run_updated')}</dt><dd>${showTime(run.updated_at)}</dd>
    </dl>
    ${error ? html`<p class="error-text">${problemText(error)}</p>` : null}
    <h3>${t('rules.run_summary')}</h3>
    <${Table} caption=${t('rules.run_summary')} numeric=${[1, 2, 3]}
      head=${[t('rules.run_scheme'), t('rules.newly_eligible'), t('rules.no_longer_eligible'), t('rules.newly_undetermined')]}
      rows=${summary.map(([scheme, s]) => [
        html`<a href=${`#/schemes/${encodeURIComponent(scheme)}`}>${schemeName(refData, scheme)}</a>`,
        ltr(s.newly_eligible),
        ltr(s.no_longer_eligible),
        ltr(s.newly_undetermined),
      ])}
      empty=${t('rules.run_no_changes')} />
  </div>`;
}
