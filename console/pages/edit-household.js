// Edit a household's own fields (members have their own page), with If-Match; on 412 the
// conflict screen lets the clerk re-apply their edit to the new version.

import * as api from '../api.js';
import { ltr, t } from '../i18n.js';
import { ConflictView, changedFields, textsOf } from '../lib/conflict.js';
import { dropDraft, loadDraft, saveDraft } from '../lib/drafts.js';
import { HOUSEHOLD_FIELDS } from '../lib/fields.js';
import { HouseholdFields, checkField, inFormOrder, serverErrors, useDistricts } from '../lib/forms.js';
import { ErrorSummary, LoadError, Loading, PageTitle, announce, html, problemText, useEffect, useLoad, useState } from '../lib/ui.js';

export function EditHouseholdPage({ route }) {
  const id = route.params[0];
  const [data, error, reload] = useLoad(() => api.get(`/api/v1/households/${encodeURIComponent(id)}`), [id]);
  if (error) return html`<${LoadError} error=${error} retry=${reload} />`;
  if (!data) return html`<${Loading} />`;
  return html`<${EditForm} household=${data} focus=${route.query.focus} />`;
}

/** The fields a clerk edits here: everything but the district (a move is not an edit). */
const EDITABLE = HOUSEHOLD_FIELDS;

function EditForm({ household, focus }) {
  const draftName = `edit.${household.id}`;
  const draft = loadDraft(draftName);
  const fresh = textsOf(household, EDITABLE);
  // A draft survives a reload of the tab only for the version it was started on.
  const [base, setBase] = useState(draft?.version === household.version ? draft.base : fresh);
  const [texts, setTexts] = useState(draft?.version === household.version ? draft.texts : fresh);
  const [version, setVersion] = useState(household.version);
  const [errors, setErrors] = useState([]);
  const [conflict, setConflict] = useState(null);
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState(null);
  const districts = useDistricts();

  useEffect(() => saveDraft(draftName, { version, base, texts }), [texts, version]);
  useEffect(() => {
    if (focus) setTimeout(() => document.getElementById(`f-${focus}`)?.focus(), 50);
  }, [focus]);

  const setText = (name, v) => setTexts((x) => ({ ...x, [name]: v }));
  const send = async (patch, ifMatch) => {
    setBusy(true);
    setFailure(null);
    try {
      await api.patch(`/api/v1/households/${household.id}`, patch, ifMatch);
      dropDraft(draftName);
      announce(t('edit.saved'));
      location.hash = `#/households/${household.id}`;
    } catch (err) {
      if (err.status === 412) {
        const theirs = await api.get(`/api/v1/households/${household.id}`);
        setConflict({ theirs, patch });
      } else if (err.status === 422) {
        setErrors(inFormOrder(serverErrors(err)));
      } else {
        setFailure(err);
      }
    } finally {
      setBusy(false);
    }
  };
  const save = () => {
    const found = inFormOrder(
      EDITABLE.map((f) => ({ path: f.name, message: checkField(f, texts[f.name]) })).filter((e) => e.message),
    );
    setErrors(found);
    if (found.length) return;
    const patch = changedFields(base, texts, EDITABLE);
    if (!Object.keys(patch).length) {
      announce(t('edit.nothing'));
      return;
    }
    send(patch, version);
  };

  useEffect(() => {
    const onKey = (e) => {
      if (e.altKey && e.key.toLowerCase() === 's') {
        e.preventDefault();
        if (!busy && !conflict) save();
      }
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  });

  return html`<div>
    <${PageTitle} sub=${html`${t('edit.editing_version')} ${ltr(version)}`}>
      ${t('edit.title')} ${ltr(household.household_number)}
    </${PageTitle}>
    ${conflict
      ? html`<${ConflictView} fields=${EDITABLE} base=${base} theirs=${conflict.theirs} patch=${conflict.patch}
          version=${conflict.theirs.version} busy=${busy}
          onReapply=${() => {
            const { theirs, patch } = conflict;
            setBase(textsOf(theirs, EDITABLE));
            setVersion(theirs.version);
            setConflict(null);
            send(patch, theirs.version);
          }}
          onDiscard=${() => {
            dropDraft(draftName);
            const now = textsOf(conflict.theirs, EDITABLE);
            setBase(now);
            setTexts(now);
            setVersion(conflict.theirs.version);
            setConflict(null);
          }} />`
      : null}
    ${failure ? html`<div class="notice notice-error" role="alert">${problemText(failure)}</div>` : null}
    <${ErrorSummary} errors=${errors} />
    <form novalidate onSubmit=${(e) => {
      e.preventDefault();
      save();
    }}>
      <${HouseholdFields} texts=${texts} setText=${setText} errors=${errors} districts=${districts} />
      <div class="actions sticky-actions">
        <button type="submit" class="button" disabled=${busy || !!conflict} data-testid="save-changes">${t('edit.save')} <kbd>Alt+S</kbd></button>
        <a class="button secondary" href=${`#/households/${household.id}`}>${t('common.cancel')}</a>
      </div>
    </form>
  </div>`;
}
