// Edit a household's own fields (members have their own page), with If-Match; on 412 the
// conflict screen lets the clerk re-apply their edit to the new version.

import * as api from '../api.js';
import { ltr, t } from '../i18n.js';
import { EditorForm, useEditor } from '../lib/conflict.js';
import { HOUSEHOLD_FIELDS } from '../lib/fields.js';
import { HouseholdFields, checkFields, useDistricts } from '../lib/forms.js';
import { PageTitle, announce, html, useLoad, waiting } from '../lib/ui.js';

export function EditHouseholdPage({ route }) {
  const id = route.params[0];
  const state = useLoad(() => api.get(`/api/v1/households/${encodeURIComponent(id)}`), [id]);
  return state[0] ? html`<${EditForm} household=${state[0]} focus=${route.query.focus} />` : waiting(state);
}

/** The household's own fields but the district: a household does not move by an edit. */
const EDITABLE = HOUSEHOLD_FIELDS.filter((f) => f.name !== 'district');

function EditForm({ household, focus }) {
  const path = `/api/v1/households/${household.id}`;
  const editor = useEditor({
    fields: EDITABLE,
    record: household,
    version: household.version,
    draft: `edit.${household.id}`,
    focus,
    submit: (patch, ifMatch) => api.patch(path, patch, ifMatch),
    current: () => api.get(path).then((record) => ({ record, version: record.version })),
    check: (texts) => checkFields(EDITABLE, texts),
    saved: () => {
      announce(t('edit.saved'));
      location.hash = `#/households/${household.id}`;
    },
  });
  const districts = useDistricts();
  return html`<div>
    <${PageTitle} sub=${html`${t('edit.editing_version')} ${ltr(editor.version)}`}>
      ${t('edit.title')} ${ltr(household.household_number)}
    </${PageTitle}>
    <${EditorForm} editor=${editor} saveLabel=${t('edit.save')} saveTestId="save-changes" cancelHref=${`#/households/${household.id}`}>
      <p><strong>${t('field.district')}:</strong> ${districts.find((d) => d.code === household.district)?.name || household.district}</p>
      <${HouseholdFields} texts=${editor.texts} setText=${editor.setText} errors=${editor.errors} districts=${districts}
        only=${EDITABLE.map((f) => f.name)} />
    </${EditorForm}>
  </div>`;
}
