/**
 * The sliver of Glance v2 the OpenStack CLIs touch while listing servers: version discovery
 * and the image list/show (to print image names).
 */
import type { ImageRecord, RequestContext } from '../model.js';
import { novaApiTime } from '../model.js';
import type { CloudState } from '../state.js';
import { Router, type SimResponse } from './router.js';

export class GlanceService {
  readonly router = new Router<RequestContext>();

  constructor(
    private readonly state: CloudState,
    private readonly imageUrl: () => string,
  ) {
    this.router
      .add('GET', '/', () => this.versions())
      .add('GET', '/v2', () => this.versions())
      .add('GET', '/v2/images', (ctx, req) => {
        const name = req.query.get('name');
        const images = [...this.state.images.values()].filter((i) => name === null || i.name === name);
        return {
          status: 200,
          body: {
            images: images.map((i) => this.view(i)),
            first: '/v2/images',
            schema: '/v2/schemas/images',
          },
        };
      })
      .add('GET', '/v2/images/{id}', (_ctx, _req, params) => {
        const image = this.state.images.get(params.id ?? '');
        if (!image) {
          return {
            status: 404,
            text: `404 Not Found\n\nNo image found with ID ${params.id ?? ''}\n\n   `,
            headers: { 'Content-Type': 'text/plain; charset=UTF-8' },
          };
        }
        return { status: 200, body: this.view(image) };
      });
  }

  private versions(): SimResponse {
    return {
      status: 300,
      body: {
        versions: ['v2.15', 'v2.9', 'v2.7', 'v2.6', 'v2.5', 'v2.4', 'v2.3', 'v2.2', 'v2.1', 'v2.0'].map(
          (id, i) => ({
            id,
            status: i === 0 ? 'CURRENT' : 'SUPPORTED',
            links: [{ rel: 'self', href: `${this.imageUrl()}/v2/` }],
          }),
        ),
      },
    };
  }

  private view(image: ImageRecord) {
    const created = novaApiTime(this.state.startedMs - 86_400_000);
    return {
      name: image.name,
      disk_format: 'qcow2',
      container_format: 'bare',
      visibility: 'public',
      size: 21430272,
      virtual_size: 117440512,
      status: 'active',
      checksum: null,
      protected: false,
      min_ram: 0,
      min_disk: 0,
      owner: [...this.state.projects.values()][0]?.id ?? null,
      os_hidden: false,
      id: image.id,
      created_at: created,
      updated_at: created,
      tags: [],
      self: `/v2/images/${image.id}`,
      file: `/v2/images/${image.id}/file`,
      schema: '/v2/schemas/image',
    };
  }
}
