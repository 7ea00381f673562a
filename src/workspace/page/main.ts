/**
 * The local workspace page: a Slack channel in one browser tab. Messages arrive over
 * server-sent events and are rendered from the same Block Kit JSON the bot sends to Slack;
 * commands, clicks and choices go back to the server, which turns them into Slack payloads for
 * the bot's Bolt listeners.
 */
import type { StoredMessage, WorkspaceUser } from '../model.js';
import type { ActionRequest, CommandRequest, DispatchAnswer, StreamEvents, WorkspaceInfo } from './api.js';
import { parseConfirm, renderBlocks, type Selections } from './blocks.js';
import { startDrillPanel } from './drill.js';
import { escapeAttribute, mrkdwnToHtml, plainTextToHtml, type MrkdwnContext } from './mrkdwn.js';

const USER_STORAGE_KEY = 'evacuation-bot.workspace.user';

interface PageState {
  info: WorkspaceInfo;
  userId: string;
  channelId: string;
  messages: Map<string, StoredMessage>;
  /** Select choices not yet replaced by a bot update, per message ts (Slack keeps them client-side). */
  selections: Map<string, Selections>;
  openThreadTs: string | null;
  highlightTs: string | null;
  dismissed: Set<string>;
  events: EventSource | null;
}

function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`The page is missing #${id}`);
  return element as T;
}

async function postJson<T>(url: string, body: unknown): Promise<T> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!response.ok) {
    const message =
      parsed && typeof parsed === 'object' && 'error' in parsed && typeof parsed.error === 'string'
        ? parsed.error
        : `${response.status} ${response.statusText}`;
    throw new Error(message);
  }
  return parsed as T;
}

function showToast(text: string, level: 'info' | 'warning' | 'error' = 'info'): void {
  const container = byId('toasts');
  const toast = document.createElement('div');
  toast.className = `toast toast-${level}`;
  toast.setAttribute('role', level === 'error' ? 'alert' : 'status');
  toast.textContent = text;
  container.append(toast);
  setTimeout(() => toast.remove(), level === 'error' ? 9000 : 5000);
}

/** Resolves true when the person confirms, false when they cancel or press Escape. */
function showConfirmDialog(dialog: NonNullable<ReturnType<typeof parseConfirm>>): Promise<boolean> {
  const backdrop = byId('modal-backdrop');
  byId('modal-title').innerHTML = dialog.titleHtml;
  byId('modal-text').innerHTML = dialog.textHtml;
  const confirm = byId<HTMLButtonElement>('modal-confirm');
  const deny = byId<HTMLButtonElement>('modal-deny');
  confirm.textContent = dialog.confirmLabel;
  deny.textContent = dialog.denyLabel;
  confirm.className = `bk-button ${dialog.style === 'danger' ? 'bk-button-danger' : 'bk-button-primary'}`;
  backdrop.hidden = false;
  confirm.focus();
  return new Promise((resolve) => {
    const finish = (answer: boolean) => {
      backdrop.hidden = true;
      confirm.removeEventListener('click', onConfirm);
      deny.removeEventListener('click', onDeny);
      byId('modal-close').removeEventListener('click', onDeny);
      document.removeEventListener('keydown', onKey);
      resolve(answer);
    };
    const onConfirm = () => finish(true);
    const onDeny = () => finish(false);
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Escape') finish(false);
    };
    confirm.addEventListener('click', onConfirm);
    deny.addEventListener('click', onDeny);
    byId('modal-close').addEventListener('click', onDeny);
    document.addEventListener('keydown', onKey);
  });
}

function initials(name: string): string {
  const parts = name.trim().split(/\s+/);
  return ((parts[0]?.[0] ?? '?') + (parts[1]?.[0] ?? '')).toUpperCase();
}

const AVATAR_COLOURS = ['#4a154b', '#1264a3', '#2bac76', '#e8912d', '#cd2553', '#0b4c8c'];

function avatarColour(id: string): string {
  let hash = 0;
  for (const char of id) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return AVATAR_COLOURS[hash % AVATAR_COLOURS.length] ?? '#4a154b';
}

function formatTime(ts: string): string {
  const date = new Date(Number(ts) * 1000);
  return date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function tsFromPermalinkId(id: string): string | null {
  if (!/^\d{7,}$/.test(id)) return null;
  return `${id.slice(0, -6)}.${id.slice(-6)}`;
}

class WorkspacePage {
  private readonly state: PageState;
  private readonly ctx: MrkdwnContext;

  constructor(info: WorkspaceInfo) {
    const stored = localStorage.getItem(USER_STORAGE_KEY);
    const firstUser = info.users[0];
    const firstChannel = info.channels[0];
    if (!firstUser || !firstChannel) throw new Error('The workspace has no users or channels');
    this.state = {
      info,
      userId: info.users.some((user) => user.id === stored) ? (stored as string) : firstUser.id,
      channelId: firstChannel.id,
      messages: new Map(),
      selections: new Map(),
      openThreadTs: null,
      highlightTs: null,
      dismissed: new Set(),
      events: null,
    };
    this.ctx = {
      userName: (id) => this.userName(id),
      channelName: (id) => info.channels.find((channel) => channel.id === id)?.name,
      localOrigin: window.location.origin,
    };
  }

  private userName(id: string): string | undefined {
    if (id === this.state.info.bot.userId) return this.state.info.bot.name;
    if (id === 'USLACKBOT') return 'Slackbot';
    return this.state.info.users.find((user) => user.id === id)?.realName;
  }

  private get user(): WorkspaceUser {
    const user = this.state.info.users.find((candidate) => candidate.id === this.state.userId);
    if (!user) throw new Error(`Unknown user ${this.state.userId}`);
    return user;
  }

  start(): void {
    this.renderChrome();
    this.bindEvents();
    this.readPermalink();
    this.connect();
    if (this.state.info.drills) {
      startDrillPanel(byId('drill-body'), { toast: showToast });
    } else {
      byId('drill-body').innerHTML =
        '<p class="drill-empty">The bot is connected to a real OpenStack cloud. Drills only change the simulated cloud, so they are off.</p>';
    }
  }

  private renderChrome(): void {
    const { info } = this.state;
    const channel = info.channels.find((candidate) => candidate.id === this.state.channelId);
    byId('team-name').textContent = info.teamName;
    byId('channel-list').innerHTML = info.channels
      .map(
        (candidate) =>
          `<div class="sidebar-item${candidate.id === this.state.channelId ? ' active' : ''}"><span class="hash">#</span>${escapeAttribute(candidate.name)}</div>`,
      )
      .join('');
    byId('channel-name').textContent = channel?.name ?? '';
    byId('channel-topic').textContent = channel?.topic ?? '';
    byId('thread-channel').textContent = `#${channel?.name ?? ''}`;
    const input = byId<HTMLTextAreaElement>('composer-input');
    input.placeholder = `Message #${channel?.name ?? ''}`;
    const badge = byId('cloud-badge');
    badge.textContent = info.mode.cloud === 'simulated' ? 'Simulated cloud' : 'Real cloud';
    badge.className = `cloud-badge ${info.mode.cloud}`;
    badge.title = info.mode.cloudDescription;
    byId('cloud-description').textContent = info.mode.cloudDescription;
    const select = byId<HTMLSelectElement>('user-select');
    select.innerHTML = info.users
      .map(
        (user) =>
          `<option value="${escapeAttribute(user.id)}"${user.id === this.state.userId ? ' selected' : ''}>${escapeAttribute(user.realName)} — ${escapeAttribute(user.role)}</option>`,
      )
      .join('');
    this.renderCurrentUser();
    byId('command-hints').innerHTML = info.commands
      .map(
        (command) =>
          `<div class="command-hint" data-command="${escapeAttribute(command.command)}"><b>${escapeAttribute(command.command)}</b> <span class="usage">${escapeAttribute(command.usageHint)}</span><div class="description">${escapeAttribute(command.description)}</div></div>`,
      )
      .join('');
  }

  private renderCurrentUser(): void {
    const user = this.user;
    const avatar = byId('me-avatar');
    avatar.textContent = initials(user.realName);
    avatar.style.background = avatarColour(user.id);
    byId('me-name').textContent = user.realName;
  }

  private connect(): void {
    this.state.events?.close();
    const status = byId('connection-status');
    const events = new EventSource(`/workspace/events?user=${encodeURIComponent(this.state.userId)}`);
    this.state.events = events;
    const on = <K extends keyof StreamEvents>(name: K, handler: (data: StreamEvents[K]) => void) =>
      events.addEventListener(name, (event) => {
        try {
          handler(JSON.parse((event as MessageEvent<string>).data) as StreamEvents[K]);
        } catch (error) {
          console.error('bad event', name, error);
        }
      });
    on('snapshot', ({ messages }) => {
      status.hidden = true;
      this.state.messages = new Map(messages.map((message) => [message.ts, message]));
      this.renderAll();
    });
    on('message', (message) => {
      const previous = this.state.messages.get(message.ts);
      // The bot re-rendered the message: its selects show the new initial options, as in Slack.
      if (previous && previous.editedAt !== message.editedAt) this.state.selections.delete(message.ts);
      this.state.messages.set(message.ts, message);
      this.renderMessage(message);
    });
    on('deleted', ({ ts }) => {
      this.state.messages.delete(ts);
      document.querySelectorAll(`[data-ts="${CSS.escape(ts)}"]`).forEach((element) => element.remove());
    });
    on('notice', ({ level, text }) => showToast(text, level));
    events.addEventListener('error', () => {
      status.hidden = false;
      status.textContent = 'Connection to the workspace lost, reconnecting…';
    });
  }

  private isVisibleInChannel(message: StoredMessage): boolean {
    return message.channel === this.state.channelId && (message.threadTs === null || message.replyBroadcast);
  }

  private isVisibleInThread(message: StoredMessage): boolean {
    const thread = this.state.openThreadTs;
    return (
      thread !== null &&
      message.channel === this.state.channelId &&
      (message.ts === thread || message.threadTs === thread)
    );
  }

  private sorted(filter: (message: StoredMessage) => boolean): StoredMessage[] {
    return [...this.state.messages.values()]
      .filter((message) => !this.state.dismissed.has(message.ts) && filter(message))
      .sort((a, b) => Number(a.ts) - Number(b.ts));
  }

  private renderAll(): void {
    const list = byId('messages');
    const channelMessages = this.sorted((message) => this.isVisibleInChannel(message));
    list.innerHTML =
      channelMessages.length === 0
        ? `<div class="empty-channel"><div class="empty-title">This is the very beginning of the channel</div><div>Try <code>/evacuate help</code> or <code>/evacuate host-2</code>.</div></div>`
        : channelMessages.map((message) => this.messageHtml(message, 'channel')).join('');
    this.renderThread();
    this.scrollToBottom(list, true);
    this.applyHighlight();
  }

  private renderThread(): void {
    const pane = byId('thread-pane');
    const threadTs = this.state.openThreadTs;
    if (threadTs === null) {
      pane.hidden = true;
      return;
    }
    pane.hidden = false;
    const messages = this.sorted((message) => this.isVisibleInThread(message));
    const [parent, ...replies] = messages;
    const list = byId('thread-messages');
    if (!parent) {
      list.innerHTML = '<div class="empty-channel">This thread is gone.</div>';
      return;
    }
    const divider =
      replies.length > 0
        ? `<div class="thread-divider"><span>${replies.length} ${replies.length === 1 ? 'reply' : 'replies'}</span></div>`
        : '';
    list.innerHTML =
      this.messageHtml(parent, 'thread-parent') +
      divider +
      replies.map((reply) => this.messageHtml(reply, 'thread')).join('');
  }

  /** Updates or inserts one message where it belongs, in the channel and in the open thread. */
  private renderMessage(message: StoredMessage): void {
    const list = byId('messages');
    const stickToBottom = this.isNearBottom(list);
    this.placeMessage(
      list,
      message,
      this.isVisibleInChannel(message) && !this.state.dismissed.has(message.ts),
      'channel',
    );
    list.querySelector('.empty-channel')?.remove();
    if (
      this.state.openThreadTs !== null &&
      (message.ts === this.state.openThreadTs || message.threadTs === this.state.openThreadTs)
    ) {
      const threadList = byId('thread-messages');
      const stick = this.isNearBottom(threadList);
      this.renderThread();
      this.scrollToBottom(threadList, stick);
    }
    this.scrollToBottom(list, stickToBottom);
  }

  private placeMessage(list: HTMLElement, message: StoredMessage, visible: boolean, where: 'channel'): void {
    const existing = list.querySelector<HTMLElement>(`:scope > [data-ts="${CSS.escape(message.ts)}"]`);
    if (!visible) {
      existing?.remove();
      return;
    }
    const template = document.createElement('template');
    template.innerHTML = this.messageHtml(message, where);
    const element = template.content.firstElementChild;
    if (!element) return;
    if (existing) {
      existing.replaceWith(element);
      return;
    }
    const later = Array.from(list.querySelectorAll<HTMLElement>(':scope > [data-ts]')).find(
      (candidate) => Number(candidate.dataset.ts) > Number(message.ts),
    );
    list.insertBefore(element, later ?? null);
  }

  private isNearBottom(list: HTMLElement): boolean {
    return list.scrollHeight - list.scrollTop - list.clientHeight < 120;
  }

  private scrollToBottom(list: HTMLElement, when: boolean): void {
    if (when) list.scrollTop = list.scrollHeight;
  }

  private messageHtml(message: StoredMessage, where: 'channel' | 'thread' | 'thread-parent'): string {
    const isBot = message.botId !== null;
    const name = this.userName(message.user) ?? message.user;
    const avatar = isBot
      ? `<div class="avatar avatar-bot" aria-hidden="true"><svg viewBox="0 0 24 24" width="22" height="22"><path fill="currentColor" d="M4 7h11l-3-3 1.4-1.4L19.8 9l-6.4 6.4L12 14l3-3H4V7zm16 10H9l3 3-1.4 1.4L4.2 15l6.4-6.4L12 10l-3 3h11v4z"/></svg></div>`
      : `<div class="avatar" style="background:${avatarColour(message.user)}" aria-hidden="true">${escapeAttribute(initials(name))}</div>`;
    const body =
      message.blocks.length > 0
        ? renderBlocks(message.blocks, this.ctx, this.state.selections.get(message.ts) ?? {})
        : `<div class="bk-text">${mrkdwnToHtml(message.text, this.ctx)}</div>`;
    const edited = message.editedAt ? '<span class="edited">(edited)</span>' : '';
    const ephemeral =
      message.ephemeralTo !== null
        ? `<div class="ephemeral-note"><span class="eye" aria-hidden="true">👁</span> Only visible to you · <button type="button" class="link-button dismiss">Dismiss</button></div>`
        : '';
    const broadcast =
      message.replyBroadcast && message.threadTs
        ? where === 'channel'
          ? `<div class="broadcast-label">replied to a thread: <button type="button" class="link-button" data-open-thread="${escapeAttribute(message.threadTs)}">${this.threadSnippet(message.threadTs)}</button></div>`
          : '<div class="broadcast-label">Also sent to the channel</div>'
        : '';
    const thread =
      where === 'channel' && message.replyCount > 0
        ? `<button type="button" class="thread-summary" data-open-thread="${escapeAttribute(message.ts)}">${message.replyUsers
            .slice(0, 3)
            .map((id) =>
              id === this.state.info.bot.userId
                ? '<span class="mini-avatar avatar-bot">⇄</span>'
                : `<span class="mini-avatar" style="background:${avatarColour(id)}">${escapeAttribute(initials(this.userName(id) ?? id))}</span>`,
            )
            .join(
              '',
            )}<span class="reply-count">${message.replyCount} ${message.replyCount === 1 ? 'reply' : 'replies'}</span><span class="thread-hint">View thread</span></button>`
        : '';
    const replyAction =
      where === 'channel' && message.ephemeralTo === null
        ? `<div class="message-actions"><button type="button" class="icon-button" title="Reply in thread" data-open-thread="${escapeAttribute(message.threadTs ?? message.ts)}">💬</button></div>`
        : '';
    const classes = ['message', isBot ? 'from-bot' : 'from-user'];
    if (message.ephemeralTo !== null) classes.push('ephemeral');
    return `<div class="${classes.join(' ')}" data-ts="${escapeAttribute(message.ts)}">${avatar}<div class="message-main"><div class="message-header"><span class="author">${escapeAttribute(name)}</span>${isBot ? '<span class="app-badge">APP</span>' : ''}<span class="timestamp" title="${escapeAttribute(new Date(Number(message.ts) * 1000).toString())}">${formatTime(message.ts)}</span>${edited}</div>${broadcast}<div class="message-body">${body}</div>${thread}${ephemeral}</div>${replyAction}</div>`;
  }

  private threadSnippet(threadTs: string): string {
    const parent = this.state.messages.get(threadTs);
    const text = parent?.text ?? 'a message';
    return plainTextToHtml(text.length > 60 ? `${text.slice(0, 60)}…` : text, true);
  }

  private openThread(threadTs: string): void {
    this.state.openThreadTs = threadTs;
    this.renderThread();
    const list = byId('thread-messages');
    this.scrollToBottom(list, true);
    byId<HTMLTextAreaElement>('thread-input').focus();
  }

  private closeThread(): void {
    this.state.openThreadTs = null;
    this.renderThread();
  }

  private readPermalink(): void {
    const match = /^\/archives\/([^/]+)\/p(\d+)$/.exec(window.location.pathname);
    if (!match) return;
    const ts = tsFromPermalinkId(match[2] ?? '');
    const threadTs = new URLSearchParams(window.location.search).get('thread_ts');
    this.state.highlightTs = ts;
    if (threadTs) this.state.openThreadTs = threadTs;
  }

  private applyHighlight(): void {
    const ts = this.state.highlightTs;
    if (!ts) return;
    const element = document.querySelector<HTMLElement>(`[data-ts="${CSS.escape(ts)}"]`);
    if (!element) return;
    element.classList.add('highlight');
    element.scrollIntoView({ block: 'center' });
    this.state.highlightTs = null;
  }

  private switchUser(userId: string): void {
    this.state.userId = userId;
    localStorage.setItem(USER_STORAGE_KEY, userId);
    this.state.selections.clear();
    this.state.dismissed.clear();
    this.renderCurrentUser();
    this.connect();
    showToast(`You are now ${this.user.realName} (${this.user.role}).`);
  }

  private async sendComposer(input: HTMLTextAreaElement, threadTs?: string): Promise<void> {
    const text = input.value.trim();
    if (text === '') return;
    input.value = '';
    this.autoSize(input);
    byId('command-hints').hidden = true;
    const request: CommandRequest = { userId: this.state.userId, channelId: this.state.channelId, text };
    if (threadTs !== undefined) request.threadTs = threadTs;
    try {
      const answer = await postJson<DispatchAnswer>('/workspace/command', request);
      if (answer.error && answer.error !== 'operation_timeout')
        showToast(`The app failed: ${answer.error}`, 'error');
    } catch (error) {
      showToast(error instanceof Error ? error.message : String(error), 'error');
      input.value = text;
    }
  }

  private async sendAction(element: HTMLElement, selectedValue?: string): Promise<void> {
    const messageElement = element.closest<HTMLElement>('[data-ts]');
    const ts = messageElement?.dataset.ts;
    const blockId = element.dataset.blockId;
    const actionId = element.dataset.actionId;
    if (!ts || blockId === undefined || actionId === undefined) return;
    const confirmJson = element.dataset.confirm;
    if (confirmJson) {
      const dialog = parseConfirm(confirmJson, this.ctx);
      if (dialog && !(await showConfirmDialog(dialog))) {
        if (element instanceof HTMLSelectElement) this.renderMessageByTs(ts);
        return;
      }
    }
    if (element instanceof HTMLSelectElement && selectedValue !== undefined) {
      const selections = this.state.selections.get(ts) ?? {};
      (selections[blockId] ??= {})[actionId] = selectedValue;
      this.state.selections.set(ts, selections);
    }
    const request: ActionRequest = {
      userId: this.state.userId,
      channelId: this.state.channelId,
      messageTs: ts,
      blockId,
      actionId,
      selections: this.state.selections.get(ts) ?? {},
    };
    if (selectedValue !== undefined) request.selectedValue = selectedValue;
    element.classList.add('is-loading');
    element.setAttribute('aria-busy', 'true');
    try {
      const answer = await postJson<DispatchAnswer>('/workspace/action', request);
      if (!answer.acknowledged)
        showToast(`The app did not handle that in time (${answer.error ?? 'no answer'}).`, 'warning');
    } catch (error) {
      showToast(error instanceof Error ? error.message : String(error), 'error');
    } finally {
      element.classList.remove('is-loading');
      element.removeAttribute('aria-busy');
    }
  }

  private renderMessageByTs(ts: string): void {
    const message = this.state.messages.get(ts);
    if (message) this.renderMessage(message);
  }

  private autoSize(input: HTMLTextAreaElement): void {
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight, 200)}px`;
  }

  private updateCommandHints(input: HTMLTextAreaElement): void {
    const hints = byId('command-hints');
    const value = input.value;
    const typed = value.split(/\s/)[0] ?? '';
    const show = value.startsWith('/') && !value.includes('\n');
    let any = false;
    hints.querySelectorAll<HTMLElement>('.command-hint').forEach((hint) => {
      const command = hint.dataset.command ?? '';
      const match = show && (command.startsWith(typed) || typed.startsWith(command));
      hint.hidden = !match;
      any ||= match;
    });
    hints.hidden = !any;
  }

  private bindEvents(): void {
    const input = byId<HTMLTextAreaElement>('composer-input');
    const threadInput = byId<HTMLTextAreaElement>('thread-input');
    const bindComposer = (element: HTMLTextAreaElement, thread: boolean) => {
      element.addEventListener('keydown', (event) => {
        if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
          event.preventDefault();
          void this.sendComposer(element, thread ? (this.state.openThreadTs ?? undefined) : undefined);
        }
        if (!thread && event.key === 'Tab' && !byId('command-hints').hidden) {
          const first = byId('command-hints').querySelector<HTMLElement>('.command-hint:not([hidden])');
          const command = first?.dataset.command;
          if (command && !element.value.startsWith(`${command} `)) {
            event.preventDefault();
            element.value = `${command} `;
          }
        }
      });
      element.addEventListener('input', () => {
        this.autoSize(element);
        if (!thread) this.updateCommandHints(element);
      });
    };
    bindComposer(input, false);
    bindComposer(threadInput, true);
    byId('composer-send').addEventListener('click', () => void this.sendComposer(input));
    byId('thread-send').addEventListener(
      'click',
      () => void this.sendComposer(threadInput, this.state.openThreadTs ?? undefined),
    );
    byId('thread-close').addEventListener('click', () => this.closeThread());
    byId<HTMLSelectElement>('user-select').addEventListener('change', (event) =>
      this.switchUser((event.target as HTMLSelectElement).value),
    );
    byId('toggle-drills').addEventListener('click', () => {
      const pane = byId('drill-pane');
      pane.hidden = !pane.hidden;
      byId('toggle-drills').setAttribute('aria-pressed', String(!pane.hidden));
    });
    byId('command-hints').addEventListener('click', (event) => {
      const hint = (event.target as HTMLElement).closest<HTMLElement>('.command-hint');
      if (!hint?.dataset.command) return;
      input.value = `${hint.dataset.command} `;
      input.focus();
      this.updateCommandHints(input);
    });

    document.addEventListener('click', (event) => {
      const target = event.target as HTMLElement;
      const button = target.closest<HTMLButtonElement>('button.bk-button[data-action-id]');
      if (button && !button.closest('#modal')) {
        if (button.dataset.url) window.open(button.dataset.url, '_blank', 'noopener');
        void this.sendAction(button);
        return;
      }
      const threadOpener = target.closest<HTMLElement>('[data-open-thread]');
      if (threadOpener?.dataset.openThread) {
        this.openThread(threadOpener.dataset.openThread);
        return;
      }
      const dismiss = target.closest<HTMLElement>('.dismiss');
      if (dismiss) {
        const ts = dismiss.closest<HTMLElement>('[data-ts]')?.dataset.ts;
        if (ts) {
          this.state.dismissed.add(ts);
          document.querySelectorAll(`[data-ts="${CSS.escape(ts)}"]`).forEach((element) => element.remove());
        }
        return;
      }
      const localLink = target.closest<HTMLAnchorElement>('a[data-local-link]');
      if (localLink) {
        event.preventDefault();
        window.history.pushState(null, '', localLink.href);
        this.readPermalink();
        this.renderThread();
        this.applyHighlight();
      }
    });
    document.addEventListener('change', (event) => {
      const select = (event.target as HTMLElement).closest<HTMLSelectElement>(
        'select.bk-select[data-action-id]',
      );
      if (select) void this.sendAction(select, select.value);
    });
  }
}

async function main(): Promise<void> {
  const response = await fetch('/workspace/info');
  if (!response.ok) throw new Error(`The workspace server answered ${response.status}`);
  const info = (await response.json()) as WorkspaceInfo;
  new WorkspacePage(info).start();
}

main().catch((error: unknown) => {
  document.body.innerHTML = `<div class="fatal">The local workspace could not start: ${escapeAttribute(error instanceof Error ? error.message : String(error))}</div>`;
});
