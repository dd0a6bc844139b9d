// The administrator's rules (`#/admin/rules`): the rule set in force, a reload of the rule
// files (the result, or every mistake with its file, line and column; the rules in force
// stay), and re-screening the registry with the rules in force, followed while it runs
// (`?run=<id>` keeps the run in the link).

import * as api from '../api.js';
import { ltr, showDate, showTime, t } from '../i18n.js';
import { Form, Section, Summary, dateOk, districtName, districtOptions, formErrors, go, isoOf, reference, schemeName, useForm } from '../lib/listing.js';
import { forgetSchemes } from '../lib/schemes.js';
import { LoadError, Loading, Mark, PageTitle, Table, announce, html, problemText, useEffect, useLoad, useState } from '../lib/ui.js';

function RulesInfo({ info }) {
  return html`<${Summary} testid="rules-info" items=${[
    [t('rules.version'), html`<code data-testid="rules-version">${ltr(info.version)}</code>`],
    [t('rules.loaded_at'), showTime(info.loaded_at)],
    [t('rules.schemes'), ltr(info.schemes)],
    [t('rules.criteria'), ltr(info.criteria)],
    [t('rules.examples'), ltr(info.examples)],
  ]} />`;
}

export function RulesPage({ route }) {
  const [info, error, reloadInfo] = useLoad(() => api.get('/api/v1/rules'), []);
  const [ref] = useLoad(reference, []);
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
      const { data } = await api.post('/api/v1/rules/reload', undefined, { query: rescreen ? { rescreen: 'true' } : undefined });
      // Scheme names and criteria shown elsewhere come from the new rules from now on.
      forgetSchemes();
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
    <${Section} id="rules-now" title=${t('rules.in_force')}>
      ${error ? html`<${LoadError} error=${error} retry=${reloadInfo} />` : null}
      ${!current && !error ? html`<${Loading} />` : null}
      ${current ? html`<${RulesInfo} info=${current} />` : null}
      <p><a href="#/schemes">${t('rules.see_catalogue')}</a></p>
    </${Section}>

    <${Section} id="rules-reload" title=${t('rules.reload_title')}>
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
    </${Section}>

    <${Rescreen} runId=${route.query.run} refData=${ref} />
  </div>`;
}

function Rescreen({ runId, refData }) {
  const f = useForm({ as_of: '', district: '' });
  const active = { districts: (refData?.districts || []).filter((d) => d.active) };
  const fields = [
    { name: 'as_of', kind: 'date', label: t('rules.rescreen_as_of'), hint: t('rules.rescreen_as_of_hint'), 'data-testid': 'rescreen-as-of' },
    { name: 'district', kind: 'select', label: t('rules.rescreen_district'), options: districtOptions(active, t('rules.all_districts')), 'data-testid': 'rescreen-district' },
  ];
  const start = (e) => {
    e.preventDefault();
    const bad = !dateOk(f.form.as_of);
    f.setErrors(bad ? [{ path: 'rescreen.as_of', message: t('roles.bad_date') }] : []);
    if (bad) return;
    f.run(
      async () => {
        const res = await api.post('/api/v1/rescreens', { as_of: isoOf(f.form.as_of) || undefined, district: f.form.district || undefined });
        announce(t('rules.rescreen_started'));
        go('/admin/rules', { run: res.data.id });
      },
      (err) => (err.status === 409 ? [{ path: 'rescreen.as_of', label: '', message: t('rules.rescreen_running') }] : formErrors(err, 'rescreen.as_of', 'rescreen')),
    );
  };
  return html`<${Section} id="rescreen" title=${t('rules.rescreen_title')}>
    <p>${t('rules.rescreen_lead')}</p>
    ${runId ? html`<${RunProgress} id=${runId} refData=${refData} />` : null}
    <${Form} f=${f} prefix="rescreen" fields=${fields} onSubmit=${start} class="narrow">
      <button class="button secondary" type="submit" disabled=${f.busy} data-testid="start-rescreen">${t('rules.rescreen_start')}</button>
    </${Form}>
  </${Section}>`;
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
    <p><${Mark} kind=${running ? 'warn' : 'good'} label=${running ? t('rules.run_running') : t('rules.run_done')} /></p>
    <${Summary} items=${[
      [t('rules.run_processed'), html`<span aria-live="polite" data-testid="rescreen-processed">${ltr(run.processed)}</span>`],
      [t('rules.run_written'), ltr(run.written)],
      [t('rules.rescreen_as_of'), showDate(run.as_of)],
      [t('rules.rescreen_district'), run.district ? html`<bdi>${districtName(refData, run.district)}</bdi>` : t('rules.all_districts')],
      [t('rules.version'), html`<code>${ltr(String(run.rules_version).slice(0, 16))}</code>`],
      [t('rules.run_started'), showTime(run.started_at)],
      [t('rules.run_updated'), showTime(run.updated_at)],
    ]} />
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
