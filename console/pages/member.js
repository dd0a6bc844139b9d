// Add a member to a household, or edit one (`#/households/{id}/members/{member}`), with
// the household's version in If-Match and the same conflict screen as the household.

import * as api from '../api.js';
import { ltr, t } from '../i18n.js';
import { EditorForm, changedFields, useEditor } from '../lib/conflict.js';
import { MEMBER_FIELDS } from '../lib/fields.js';
import { MemberFields, checkMember, memberBody } from '../lib/forms.js';
import { LoadError, PageTitle, announce, html, useLoad, useRef, waiting } from '../lib/ui.js';

export function MemberPage({ route }) {
  const [id, memberId] = route.params;
  const state = useLoad(() => api.get(`/api/v1/households/${encodeURIComponent(id)}`), [id]);
  const [data] = state;
  if (!data) return waiting(state);
  const member = memberId ? [...data.members, ...data.deceased_members].find((m) => m.id === memberId) : null;
  if (memberId && !member) return html`<${LoadError} error=${{ status: 404 }} />`;
  return html`<${MemberForm} household=${data} member=${member} focus=${route.query.focus} />`;
}

/** The changed fields; a document set to none takes its number away with it. */
function memberPatch(base, texts) {
  const patch = changedFields(base, texts, MEMBER_FIELDS);
  if (texts.id_type === 'none' && base.id_number) patch.id_number = null;
  return patch;
}

function MemberForm({ household, member, focus }) {
  const base = `/api/v1/households/${household.id}`;
  const key = useRef({ body: null, key: null });
  const editor = useEditor({
    fields: MEMBER_FIELDS,
    record: member || { relation_to_head: null, id_type: null },
    version: household.version,
    focus,
    check: checkMember,
    bodyOf: member ? (base, texts) => memberPatch(base, texts) : (_, texts) => memberBody(texts),
    submit: (body, ifMatch) => {
      if (member) return api.patch(`${base}/members/${member.id}`, body, ifMatch);
      // The same new member keeps its Idempotency-Key, so a retry adds them once.
      const text = JSON.stringify(body);
      if (key.current.body !== text) key.current = { body: text, key: api.newKey() };
      return api.send('POST', `${base}/members`, { body, ifMatch, key: key.current.key });
    },
    current: () =>
      api.get(base).then((h) => ({ record: member ? [...h.members, ...h.deceased_members].find((m) => m.id === member.id) : null, version: h.version })),
    saved: () => {
      announce(t(member ? 'member.saved' : 'member.added'));
      location.hash = `#/households/${household.id}`;
    },
  });
  return html`<div>
    <${PageTitle} sub=${html`${t('household.title')} ${ltr(household.household_number)} · ${t('edit.editing_version')} ${ltr(editor.version)}`}>
      ${member ? html`${t('member.edit_title')} <bdi>${member.full_name}</bdi>` : t('member.add_title')}
    </${PageTitle}>
    <${EditorForm} editor=${editor} saveLabel=${t(member ? 'edit.save' : 'member.add')} saveTestId="save-member"
      cancelHref=${`#/households/${household.id}`}>
      <${MemberFields} prefix="" texts=${editor.texts} setText=${editor.setText} errors=${editor.errors} open=${!!member} />
    </${EditorForm}>
  </div>`;
}
