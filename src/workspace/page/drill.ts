/**
 * The drill panel: changes the simulated cloud while the team watches the bot react. Talks to
 * the simulator's `/_sim` control API through the workspace server's proxy.
 */
import { escapeAttribute } from './mrkdwn.js';
import {
  drillRequests,
  isSpeedPreset,
  parseDrillState,
  sortedHosts,
  SPEED_PRESETS,
  type DrillHost,
  type DrillRequest,
  type DrillState,
  type SpeedPreset,
} from './drill-model.js';

const REFRESH_MS = 1500;
const SPEED_STORAGE_KEY = 'evacuation-bot.workspace.speed';

interface DrillOptions {
  toast(text: string, level?: 'info' | 'warning' | 'error'): void;
}

async function send(request: DrillRequest | { method: 'GET'; path: string }): Promise<unknown> {
  const body = 'body' in request && request.body !== undefined ? JSON.stringify(request.body) : undefined;
  const response = await fetch(request.path, {
    method: request.method,
    headers: { 'content-type': 'application/json' },
    ...(body !== undefined ? { body } : {}),
  });
  const text = await response.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = text;
  }
  if (!response.ok) {
    const message =
      parsed && typeof parsed === 'object'
        ? String(
            (parsed as { error?: unknown; message?: unknown }).error ??
              (parsed as { message?: unknown }).message ??
              response.status,
          )
        : `${response.status} ${response.statusText}`;
    throw new Error(message);
  }
  return parsed;
}

function hostHtml(host: DrillHost): string {
  const dot = host.state === 'up' ? (host.alive ? 'up' : 'dying') : 'down';
  const pills = [
    `<span class="pill ${host.state === 'up' ? '' : 'bad'}">${host.state}</span>`,
    host.enabled ? '' : '<span class="pill warn">disabled</span>',
    host.forcedDown ? '<span class="pill bad">forced down</span>' : '',
    host.alive ? '' : '<span class="pill warn">no heartbeat</span>',
    host.full ? '<span class="pill warn">full</span>' : '',
  ].join('');
  const name = escapeAttribute(host.name);
  const button = (drill: string, label: string, title: string) =>
    `<button type="button" class="bk-button" data-drill="${drill}" data-host="${name}" title="${escapeAttribute(title)}">${label}</button>`;
  const buttons = [
    host.alive
      ? button(
          'down',
          'Take down',
          "Stop nova-compute's heartbeat: Nova reports the service down after service_down_time",
        )
      : button('up', 'Bring up', 'Start nova-compute again'),
    host.forcedDown
      ? button('unforce', 'Unset forced down', 'openstack compute service set --up')
      : button(
          'force',
          'Force down',
          'openstack compute service set --down, as an operator does once the host is fenced',
        ),
    host.full
      ? button('unfill', 'Free', 'Give back the capacity the Fill drill took')
      : button('fill', 'Fill', 'Consume its free capacity: the scheduler places nothing more there'),
  ].join('');
  const meta = [`${host.servers} server${host.servers === 1 ? '' : 's'}`];
  if (host.moving > 0) meta.push(`${host.moving} moving`);
  if (host.zone) meta.push(escapeAttribute(host.zone));
  return `<div class="drill-host" data-drill-host="${name}"><div class="drill-host-line"><span class="dot ${dot}"></span><span class="drill-host-name">${name}</span>${pills}</div><div class="drill-host-meta">${meta.join(' · ')}</div><div class="drill-buttons">${buttons}</div></div>`;
}

function controlsHtml(speed: SpeedPreset | null): string {
  const options = (Object.keys(SPEED_PRESETS) as SpeedPreset[])
    .map(
      (key) =>
        `<option value="${key}"${key === speed ? ' selected' : ''}>${SPEED_PRESETS[key].label}</option>`,
    )
    .join('');
  return `
  <div class="drill-section">
    <h3>Failures</h3>
    <div class="drill-row"><label>Next live migration</label><button type="button" class="bk-button bk-button-danger" data-drill="fail-next">Make it fail</button></div>
    <div class="drill-note">Nova accepts the move (202); it then fails on the compute host and the server stays where it was. The reason is only in the instance action, as with a real libvirt failure.</div>
  </div>
  <div class="drill-section">
    <h3>Speed of moves</h3>
    <select class="bk-select drill-speed" id="drill-speed" aria-label="Speed of moves">${speed === null ? '<option value="" selected disabled hidden>As in the scenario</option>' : ''}${options}</select>
    <div class="drill-note">Live and cold migrations and evacuations, before the simulator's time scale.</div>
  </div>
  <div class="drill-section">
    <h3>Hosts <span class="pill" id="drill-operations"></span></h3>
    <div class="drill-hosts" id="drill-hosts"></div>
  </div>`;
}

export function startDrillPanel(root: HTMLElement, options: DrillOptions): void {
  let busy = false;
  const stored = localStorage.getItem(SPEED_STORAGE_KEY);
  root.innerHTML = controlsHtml(stored !== null && isSpeedPreset(stored) ? stored : null);
  const hosts = root.querySelector<HTMLElement>('#drill-hosts');
  const operations = root.querySelector<HTMLElement>('#drill-operations');
  if (!hosts || !operations) throw new Error('drill panel markup is incomplete');

  const refresh = async () => {
    try {
      const state: DrillState = parseDrillState(await send({ method: 'GET', path: '/_sim/state' }));
      hosts.innerHTML = sortedHosts(state).map(hostHtml).join('');
      operations.textContent = state.operations > 0 ? `${state.operations} moving` : '';
      operations.hidden = state.operations === 0;
    } catch (error) {
      hosts.innerHTML = `<p class="drill-empty">The simulated cloud is not answering: ${escapeAttribute(error instanceof Error ? error.message : String(error))}</p>`;
    }
  };

  const run = async (drill: string, host: string, preset?: string) => {
    if (busy) return;
    busy = true;
    try {
      const { requests, done } = drillRequests(drill, host, preset);
      for (const request of requests) await send(request);
      options.toast(done);
    } catch (error) {
      options.toast(`Drill failed: ${error instanceof Error ? error.message : String(error)}`, 'error');
    } finally {
      busy = false;
      await refresh();
    }
  };

  root.addEventListener('click', (event) => {
    const button = (event.target as HTMLElement).closest<HTMLButtonElement>('button[data-drill]');
    if (!button?.dataset.drill) return;
    void run(button.dataset.drill, button.dataset.host ?? '');
  });
  root.addEventListener('change', (event) => {
    const select = event.target as HTMLSelectElement;
    if (select.id !== 'drill-speed') return;
    localStorage.setItem(SPEED_STORAGE_KEY, select.value);
    void run('speed', '', select.value);
  });

  void refresh();
  setInterval(() => {
    if (!busy && !document.hidden && root.offsetParent !== null) void refresh();
  }, REFRESH_MS);
}
