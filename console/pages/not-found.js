// A link that leads nowhere.

import { t } from '../i18n.js';
import { PageTitle, html } from '../lib/ui.js';
import { home } from '../lib/session.js';

export function NotFoundPage() {
  return html`<div>
    <${PageTitle}>${t('notfound.title')}</${PageTitle}>
    <p>${t('notfound.body')}</p>
    <p><a href=${home()}>${t('notfound.home')}</a></p>
  </div>`;
}
