// Add a member to a household, or edit one (`#/households/{id}/members/{member}`), with
// the household's version in If-Match and the same conflict screen as the household.

import * as api from '../api.js';
import { ltr, t } from '../i18n.js';
import { ConflictView, changedFields, textsOf } from '../lib/conflict.js';
import { MEMBER_FIELDS } from '../lib/fields.js';
import { MemberFields, checkField, inFormOrder, memberBody, serverErrors } from '../lib/forms.js';
import { ErrorSummary, LoadError, Loading, PageTitle, announce, html, problemText, useEffect, useLoad, useRef, useState } from '../lib/ui.js';

export function MemberPage({ route }) {
  const [id, memberId] = route.params;
  const [data, error, reload] = useLoad(() => api.get(`/api/v1/households/${encodeURIComponent(id)}`), [id]);
  if (error) return html`<${LoadError} error=${error} retry=${reload} />`;
  if (!data) return html`<${Loading} />`;
  const member = memberId ? data.members.find((m) => m.id === memberId) : null;
  if (memberId && !member) return html`<${LoadError} error=${{ status: 404 }} />`;
  return html`<${MemberForm} household=${data} member=${member} focus=${route.query.focus} />`;
}

/** Client checks: the same as registration for one member. */
function check(texts) {
  const errors = [];
  for (const f of MEMBER_FIELDS) {
    if (f.name === 'id_number') {
      if (texts.id_type && texts.id_type !== 'none' && !texts.id_number) errors.push({ path: 'id_number', message: t('check.id_needed') });
      else if (texts.id_type !== 'none' && texts.id_number) {
        const m = checkField(f, texts.id_number);
        if (m) errors.push({ path: 'id_number', message: m });
      }
      continue;
    }
    const m = checkField(f, texts[f.name]);
    if (m) errors.push({ path: f.name, message: m });
  }
  return errors.map((e) => ({ ...e, label: t(`field.${e.path}`) }));
}

function MemberForm({ household, member, focus }) {
  const fresh = member ? textsOf(member, MEMBER_FIELDS) : { relation_to_head: null, id_type: null };
  const [base, setBase] = useState(fresh);
  const [texts, setTexts] = useState(fresh);
  const [version, setVersion] = useState(household.version);
  const [errors, setErrors] = useState([]);
  const [conflict, setConflict] = useState(null);
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState(null);
  const key = useRef({ body: null, key: null });
  const back = `#/households/${household.id}`;

  useEffect(() => {
    if (focus) setTimeout(() => document.getElementById(`f-${focus}`)?.focus(), 50);
  }, [focus]);

  const labelled = (list) => list.map((e) => ({ ...e, label: t(`field.${e.path}`) }));
  const send = async (body, ifMatch) => {
    setBusy(true);
    setFailure(null);
    try {
      if (member) {
        await api.patch(`/api/v1/households/${household.id}/members/${member.id}`, body, ifMatch);
      } else {
        const text = JSON.stringify(body);
        if (key.current.body !== text) key.current = { body: text, key: api.newKey() };
        await api.send('POST', `/api/v1/households/${household.id}/members`, { body, ifMatch, key: key.current.key });
      }
      announce(t(member ? 'member.saved' : 'member.added'));
      location.hash = back;
    } catch (err) {
      if (err.status === 412) {
        const theirs = await api.get(`/api/v1/households/${household.id}`);
        const now = member ? theirs.members.find((m) => m.id === member.id) : null;
        if (member && now) setConflict({ theirs: now, version: theirs.version, patch: body });
        else {
          // A new member conflicts with nothing field by field: send it on the new version.
          setVersion(theirs.version);
          setFailure({ detail: t('member.version_moved') });
        }
      } else if (err.status === 422 || err.status === 409) {
        const list = err.status === 409 ? [{ path: 'id_number', message: err.detail }] : serverErrors(err);
        setErrors(labelled(list.map((e) => ({ ...e, path: e.path.replace(/^members\.\d+\./, '') }))));
      } else {
        setFailure(err);
      }
    } finally {
      setBusy(false);
    }
  };
  const save = () => {
    const found = check(texts);
    setErrors(inFormOrder(found).map((e) => ({ ...e, label: t(`field.${e.path}`) })));
    if (found.length) return;
    if (member) {
      const patch = changedFields(base, texts, MEMBER_FIELDS);
      if (!Object.keys(patch).length) return announce(t('edit.nothing'));
      send(patch, version);
    } else {
      send(memberBody(texts), version);
    }
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
    <${PageTitle} sub=${html`${t('household.title')} ${ltr(household.household_number)} · ${t('edit.editing_version')} ${ltr(version)}`}>
      ${member ? html`${t('member.edit_title')} <bdi>${member.full_name}</bdi>` : t('member.add_title')}
    </${PageTitle}>
    ${conflict
      ? html`<${ConflictView} fields=${MEMBER_FIELDS} base=${base} theirs=${conflict.theirs} patch=${conflict.patch}
          version=${conflict.version} busy=${busy}
          onReapply=${() => {
            const { theirs, patch } = conflict;
            setBase(textsOf(theirs, MEMBER_FIELDS));
            setVersion(conflict.version);
            setConflict(null);
            send(patch, conflict.version);
          }}
          onDiscard=${() => {
            const now = textsOf(conflict.theirs, MEMBER_FIELDS);
            setBase(now);
            setTexts(now);
            setVersion(conflict.version);
            setConflict(null);
          }} />`
      : null}
    ${failure ? html`<div class="notice notice-error" role="alert">${problemText(failure)}</div>` : null}
    <${ErrorSummary} errors=${errors} />
    <form novalidate onSubmit=${(e) => {
      e.preventDefault();
      save();
    }}>
      <${MemberFields} prefix="" texts=${texts} setText=${(name, v) => setTexts((x) => ({ ...x, [name]: v }))} errors=${errors} open=${!!member} />
      <div class="actions sticky-actions">
        <button type="submit" class="button" disabled=${busy || !!conflict} data-testid="save-member">${t(member ? 'edit.save' : 'member.add')} <kbd>Alt+S</kbd></button>
        <a class="button secondary" href=${back}>${t('common.cancel')}</a>
      </div>
    </form>
  </div>`;
}
