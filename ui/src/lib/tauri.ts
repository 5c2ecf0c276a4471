// The one module that imports @tauri-apps/*: the Backend over Tauri's IPC.
import { invoke } from '@tauri-apps/api/core';
import { listen } from '@tauri-apps/api/event';
import type { Backend } from './backend';
import { EVENT, type AppEvent } from './ipc';

export const tauriBackend: Backend = {
  inbox: (filter) => invoke('inbox', { filter }),
  review: (request) => invoke('review', { request }),
  reviewArtifact: (request, artifact) => invoke('review_artifact', { request, artifact }),
  diffSummary: (request) => invoke('diff_summary', { request }),
  diffRows: (request, start, count) => invoke('diff_rows', { request, start, count }),
  cancelWork: (request) => invoke('cancel_work', { request }),
  sign: (request, signer, acceptWarnings) => invoke('sign', { request, signer, acceptWarnings }),
  reject: (request, reason, signer) => invoke('reject', { request, reason, signer }),
  finalize: (request) => invoke('finalize', { request }),
  history: () => invoke('history'),
  settings: () => invoke('settings'),
  setNotifications: (on) => invoke('set_notifications', { on }),
  setSyncInterval: (secs) => invoke('set_sync_interval', { secs }),
  setAutostart: (on) => invoke('set_autostart', { on }),
  createKey: (label) => invoke('create_key', { label }),
  watchPackage: (remote, clone) => invoke('watch_package', { remote, clone }),
  readLedgerKey: () => invoke('read_ledger_key'),
  addLedgerKey: (keyId, label) => invoke('add_ledger_key', { keyId, label }),
  setKeyLabel: (keyId, label) => invoke('set_key_label', { keyId, label }),
  syncNow: () => invoke('sync_now'),
  openingReview: () => invoke('opening_review'),
  openRequestFile: (path) => invoke('open_request_file', { path }),
  openingRequestFile: () => invoke('opening_request_file'),
  onEvent: (f) => listen<AppEvent>(EVENT, (e) => f(e.payload)),
};
