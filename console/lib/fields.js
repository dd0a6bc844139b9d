// The registry's fields as the forms show them: order, input kind, coded values and
// direction. Names are the API's JSON names; labels and value names come from the
// catalogues (`field.<name>`, `enum.<name>.<value>`). A test checks this list against the
// OpenAPI document, so a field the API accepts cannot be missing here.

import { asciiDigits, dateToIso, isoToDate, mask } from '../i18n.js';

const ENUMS = {
  area_type: ['urban', 'rural'],
  house_ownership: ['owned', 'rented', 'rent_free'],
  relation_to_head: ['head', 'spouse', 'son', 'daughter', 'parent', 'sibling', 'grandchild', 'other_relative', 'unrelated'],
  sex: ['male', 'female', 'transgender'],
  id_type: ['cnic', 'b_form', 'none'],
  marital_status: ['never_married', 'married', 'widowed', 'divorced', 'separated'],
  religion: ['muslim', 'christian', 'hindu', 'sikh', 'other'],
  disability: ['none', 'physical', 'visual', 'hearing', 'speech', 'intellectual', 'psychosocial', 'multiple'],
  school_level: ['none', 'primary', 'secondary', 'higher_secondary', 'tertiary', 'madrasa'],
  employment: [
    'employed_formal',
    'employed_informal',
    'self_employed',
    'unemployed',
    'student',
    'homemaker',
    'retired',
    'unable_to_work',
    'child',
  ],
  removal_reason: ['deceased', 'moved_out', 'married_out', 'data_error'],
};
export const enumValues = (name) => ENUMS[name] || [];

// kind: text | int | decimal | date | enum | bool | id | phone | district
// group: the section of the form the field is shown in.
export const HOUSEHOLD_FIELDS = [
  { name: 'district', kind: 'district', required: true, group: 'location' },
  { name: 'tehsil', kind: 'text', max: 100, group: 'location' },
  { name: 'union_council', kind: 'text', max: 100, group: 'location' },
  { name: 'village', kind: 'text', max: 100, group: 'location' },
  { name: 'address', kind: 'text', max: 500, group: 'location', dir: 'auto' },
  { name: 'area_type', kind: 'enum', group: 'location' },
  { name: 'phone', kind: 'phone', group: 'location' },
  { name: 'monthly_income_pkr', kind: 'int', group: 'means' },
  { name: 'pmt_score', kind: 'decimal', group: 'means' },
  { name: 'land_acres', kind: 'decimal', group: 'means' },
  { name: 'livestock_heads', kind: 'int', group: 'means' },
  { name: 'house_ownership', kind: 'enum', group: 'means' },
  { name: 'rooms', kind: 'int', group: 'means' },
  { name: 'owns_vehicle', kind: 'bool', group: 'means' },
];

export const MEMBER_FIELDS = [
  { name: 'full_name', kind: 'text', required: true, max: 200, group: 'identity', dir: 'auto' },
  { name: 'full_name_ur', kind: 'text', max: 200, group: 'identity', dir: 'rtl', lang: 'ur' },
  { name: 'father_or_husband_name', kind: 'text', max: 200, group: 'identity', dir: 'auto' },
  { name: 'relation_to_head', kind: 'enum', required: true, group: 'identity' },
  { name: 'sex', kind: 'enum', required: true, group: 'identity' },
  { name: 'date_of_birth', kind: 'date', required: true, group: 'identity' },
  { name: 'id_type', kind: 'enum', required: true, group: 'identity' },
  { name: 'id_number', kind: 'id', group: 'identity' },
  { name: 'marital_status', kind: 'enum', group: 'identity' },
  { name: 'religion', kind: 'enum', group: 'identity' },
  { name: 'disability', kind: 'enum', group: 'health' },
  { name: 'disability_certificate', kind: 'bool', group: 'health' },
  { name: 'chronic_illness', kind: 'bool', group: 'health' },
  { name: 'is_pregnant', kind: 'bool', group: 'health' },
  { name: 'is_lactating', kind: 'bool', group: 'health' },
  { name: 'is_orphan', kind: 'bool', group: 'health' },
  { name: 'school_enrolled', kind: 'bool', group: 'education' },
  { name: 'school_level', kind: 'enum', group: 'education' },
  { name: 'attendance_pct', kind: 'int', group: 'education' },
  { name: 'employment', kind: 'enum', group: 'work' },
  { name: 'monthly_income_pkr', kind: 'int', group: 'work' },
  { name: 'govt_employee', kind: 'bool', group: 'work' },
  { name: 'taxpayer', kind: 'bool', group: 'work' },
  { name: 'eobi_registered', kind: 'bool', group: 'work' },
  { name: 'eobi_contribution_years', kind: 'int', group: 'work' },
  { name: 'essi_registered', kind: 'bool', group: 'work' },
];

/** `#####-#######-#` as the clerk types. */
export const maskIdNumber = (raw) => mask(raw, 13, [5, 12]);

/**
 * The form's text for a stored value (what an input shows), by field kind.
 */
export function toInput(field, value) {
  if (value === null || value === undefined) return field.kind === 'bool' ? null : '';
  if (field.kind === 'date') return isoToDate(value);
  if (field.kind === 'id') return maskIdNumber(value);
  if (field.kind === 'bool') return value;
  return String(value);
}

/**
 * The API's value for a form text: trimmed, ASCII digits, numbers as numbers where they
 * parse (otherwise the text goes as typed and the server names the field), empty → null.
 */
export function fromInput(field, text) {
  if (field.kind === 'bool') return text === true || text === false ? text : null;
  if (text === null || text === undefined) return null;
  let s = String(text).trim();
  if (s === '') return null;
  if (['int', 'decimal', 'date', 'id', 'phone'].includes(field.kind)) s = asciiDigits(s);
  if (field.kind === 'int' && /^-?\d+$/.test(s)) return Number(s);
  if (field.kind === 'decimal' && /^-?\d+(\.\d+)?$/.test(s)) return Number(s);
  if (field.kind === 'date') return dateToIso(s);
  return s;
}
