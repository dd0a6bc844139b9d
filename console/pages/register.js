// Register a household with all its members: keyboard first (typed dates, the ID mask,
// Alt+N adds a member, Alt+S checks and saves), the duplicate check as soon as an ID number
// is complete, "check your answers" before saving, and the draft kept in sessionStorage.

import * as api from '../api.js';
import { asciiDigits, ltr, t } from '../i18n.js';
import { dropDraft, loadDraft, saveDraft } from '../lib/drafts.js';
import { HOUSEHOLD_FIELDS, MEMBER_FIELDS, fromInput } from '../lib/fields.js';
import {
  HouseholdFields,
  MemberFields,
  checkFields,
  checkMember,
  householdBody,
  inFormOrder,
  memberBody,
  showValue,
  useDistricts,
} from '../lib/forms.js';
import { Summary } from '../lib/listing.js';
import { session } from '../lib/session.js';
import { ErrorSummary, PageTitle, announce, fieldErrors, html, problemText, useAltKey, useEffect, useRef, useState } from '../lib/ui.js';

const DRAFT = 'register';

function emptyMember(relation) {
  return { relation_to_head: relation || null, id_type: null };
}

function initialForm() {
  const saved = loadDraft(DRAFT);
  if (saved && saved.household && Array.isArray(saved.members)) return saved;
  const districts = session()?.districts || [];
  return { household: { district: districts.length === 1 ? districts[0] : null }, members: [emptyMember('head')] };
}

/** Every client-side mistake, in form order. */
function checkForm(form) {
  const errors = [...checkFields(HOUSEHOLD_FIELDS, form.household), ...form.members.flatMap((m, i) => checkMember(m, `members.${i}.`))];
  const heads = form.members.filter((m) => m.relation_to_head === 'head').length;
  if (heads !== 1 && !errors.some((e) => e.path.endsWith('relation_to_head'))) {
    errors.push({ path: 'members.0.relation_to_head', message: t('check.one_head') });
  }
  return inFormOrder(errors);
}

export function RegisterPage() {
  const [form, setForm] = useState(initialForm);
  const [errors, setErrors] = useState([]);
  const [step, setStep] = useState('form'); // form | review
  const [busy, setBusy] = useState(false);
  const [found, setFound] = useState({}); // ID number → the household holding it, or false
  const [failure, setFailure] = useState(null);
  const key = useRef({ body: null, key: null });
  const districts = useDistricts();

  useEffect(() => saveDraft(DRAFT, form), [form]);

  const setHousehold = (name, v) => setForm((f) => ({ ...f, household: { ...f.household, [name]: v } }));
  const setMember = (i, name, v) =>
    setForm((f) => ({ ...f, members: f.members.map((m, j) => (j === i ? { ...m, [name]: v } : m)) }));
  const addMember = () => {
    setForm((f) => ({ ...f, members: [...f.members, emptyMember()] }));
    setTimeout(() => {
      const blocks = document.querySelectorAll('.member-block');
      blocks[blocks.length - 1]?.querySelector('input, select')?.focus();
    }, 0);
  };
  const removeMember = (i) => setForm((f) => ({ ...f, members: f.members.filter((_, j) => j !== i) }));
  const setCount = (text) => {
    const n = Number(asciiDigits(text).replace(/\D/g, ''));
    if (!n || n < 1 || n > 30) return;
    setForm((f) => {
      const members = f.members.slice(0, Math.max(n, f.members.filter((m) => m.full_name).length));
      while (members.length < n) members.push(emptyMember());
      return { ...f, members };
    });
  };

  // The duplicate check: as soon as an ID number is complete, ask the registry. Answers are
  // kept by number, not by member, so a late answer or a removed member never shows a
  // warning beside the wrong person.
  const digitsOf = (m) => (m.id_type !== 'none' ? String(m.id_number || '').replace(/\D/g, '') : '');
  const complete = form.members.map(digitsOf).filter((d) => d.length === 13);
  useEffect(() => {
    for (const digits of complete) {
      if (digits in found) continue;
      setFound((f) => ({ ...f, [digits]: null }));
      api.get('/api/v1/households', { id_number: digits, limit: 1 }).then(
        (page) => setFound((f) => ({ ...f, [digits]: page.items[0] || false })),
        // Unanswered (a busy server, a dropped line): forget it and ask again in 2 s.
        () => setTimeout(() => setFound(({ [digits]: _, ...rest }) => rest), 2e3),
      );
    }
  }, [complete.join('|'), Object.keys(found).length]);
  const duplicateOf = (i) => {
    const digits = digitsOf(form.members[i]);
    if (digits.length !== 13) return null;
    const twin = form.members.findIndex((m, j) => j !== i && digitsOf(m) === digits);
    if (twin >= 0) return { twin };
    return found[digits] || null;
  };

  const review = () => {
    const found = checkForm(form);
    setErrors(found);
    setFailure(null);
    // The review's heading takes the focus (PageTitle): the button pressed is gone.
    if (!found.length) setStep('review');
  };

  const save = async () => {
    const body = { ...householdBody(form.household), members: form.members.map(memberBody) };
    const text = JSON.stringify(body);
    // The same body keeps its Idempotency-Key, even across a reload of the tab (it is kept
    // with the draft), so a retry after a lost answer registers the household once.
    if (key.current.body !== text) key.current = form.sent?.body === text ? form.sent : { body: text, key: api.newKey() };
    saveDraft(DRAFT, { ...form, sent: key.current });
    setBusy(true);
    setFailure(null);
    try {
      const res = await api.post('/api/v1/households', body, { key: key.current.key });
      const hh = res.data;
      saveDraft(`warnings.${hh.id}`, hh.warnings || []);
      dropDraft(DRAFT);
      announce(t('register.saved', { number: hh.household_number }));
      location.hash = `#/households/${hh.id}?saved=1`;
    } catch (err) {
      if (err.status === 422) {
        setErrors(inFormOrder(fieldErrors(err)));
        setStep('form');
      } else if (err.status === 409 && err.problem?.existing_household) {
        const path = String(err.problem.field || '').replace(/\[(\d+)\]/g, '.$1');
        setErrors(inFormOrder([{ path, message: t('register.duplicate_saved', { number: err.problem.existing_household.household_number }) }]));
        setStep('form');
      } else {
        setFailure(err);
      }
    } finally {
      setBusy(false);
    }
  };

  useAltKey((k) => {
    if (k === 'n' && step === 'form') addMember();
    else if (k === 's') step === 'form' ? review() : busy || save();
    else return false;
  });

  // Enter in a text input never submits a half-filled form.
  const onSubmit = (e) => {
    e.preventDefault();
  };

  if (step === 'review') return html`<${Review} form=${form} busy=${busy} failure=${failure} districts=${districts}
    onBack=${() => setStep('form')} onSave=${save} />`;

  return html`<div>
    <${PageTitle} sub=${t('register.lead')}>${t('register.title')}</${PageTitle}>
    <p class="shortcuts">${t('register.shortcuts')}</p>
    <${ErrorSummary} errors=${errors} />
    <form onSubmit=${onSubmit} novalidate>
      <${HouseholdFields} texts=${form.household} setText=${setHousehold} errors=${errors} districts=${districts} />
      <h2>${t('register.members')}</h2>
      <div class="field narrow-field">
        <label for="f-member-count">${t('register.count')}</label>
        <p class="hint" id="f-member-count-hint">${t('register.count_hint')}</p>
        <input id="f-member-count" type="text" inputmode="numeric" dir="ltr" aria-describedby="f-member-count-hint"
          value=${String(form.members.length)} onChange=${(e) => setCount(e.target.value)} />
      </div>
      ${form.members.map(
        (m, i) => html`<fieldset class="member-block" key=${i} data-testid=${`member-block-${i}`}>
          <legend>${t('member.n', { n: i + 1 })}${m.full_name ? html` — <bdi>${m.full_name}</bdi>` : null}</legend>
          <${MemberFields} prefix=${`members.${i}.`} texts=${m} setText=${(name, v) => setMember(i, name, v)} errors=${errors} />
          <${DuplicateNote} dup=${duplicateOf(i)} />
          ${form.members.length > 1
            ? html`<button type="button" class="link-button" onClick=${() => removeMember(i)}>${t('register.remove_member', { n: i + 1 })}</button>`
            : null}
        </fieldset>`,
      )}
      <div class="actions sticky-actions">
        <button type="button" class="button secondary" onClick=${addMember} data-testid="add-member">${t('register.add_member')} <kbd>Alt+N</kbd></button>
        <button type="button" class="button" onClick=${review} data-testid="review">${t('register.review')} <kbd>Alt+S</kbd></button>
        <button type="button" class="link-button" onClick=${() => {
          dropDraft(DRAFT);
          setForm({ household: { district: form.household.district }, members: [emptyMember('head')] });
          setErrors([]);
        }}>${t('register.clear')}</button>
      </div>
    </form>
  </div>`;
}

function DuplicateNote({ dup }) {
  if (!dup) return null;
  if (dup.twin !== undefined) {
    return html`<div class="notice notice-warn" role="alert" data-testid="duplicate-warning">${t('register.duplicate_in_form', { n: dup.twin + 1 })}</div>`;
  }
  return html`<div class="notice notice-warn" role="alert" data-testid="duplicate-warning">
    ${t('register.duplicate')} <a href=${`#/households/${dup.id}`}>${ltr(dup.household_number)}</a>
    ${dup.head_name ? html` (<bdi>${dup.head_name}</bdi>)` : null}
  </div>`;
}

/** "Check your answers": everything as it will be saved, with a way back to each part. */
function Review({ form, busy, failure, onBack, onSave, districts }) {
  // The fields filled in, as they will be saved.
  const filled = (fields, texts) =>
    html`<${Summary} items=${fields.filter((f) => fromInput(f, texts[f.name]) !== null).map((f) => [t(`field.${f.name}`), showValue(f, fromInput(f, texts[f.name]), districts)])} />`;
  return html`<div>
    <${PageTitle}>${t('register.check_title')}</${PageTitle}>
    ${failure ? html`<div class="notice notice-error" role="alert">${problemText(failure)}
        <button type="button" class="button secondary" onClick=${onSave}>${t('common.retry')}</button></div>` : null}
    <h2>${t('register.household')}</h2>
    ${filled(HOUSEHOLD_FIELDS, form.household)}
    ${form.members.map(
      (m, i) => html`<h2>${t('member.n', { n: i + 1 })}</h2>
        ${filled(MEMBER_FIELDS.filter((f) => !(f.name === 'id_number' && m.id_type === 'none')), m)}`,
    )}
    <div class="actions sticky-actions">
      <button type="button" class="button" disabled=${busy} onClick=${onSave} data-testid="save-household">${t('register.save')} <kbd>Alt+S</kbd></button>
      <button type="button" class="button secondary" onClick=${onBack} data-testid="back-to-form">${t('register.change')}</button>
    </div>
  </div>`;
}
