import { apiUrl } from "../config";
import type { components, paths } from "./schema";

/** An item as the API returns it. */
export type ItemPublic = components["schemas"]["ItemPublic"];

type Health =
  paths["/api/v1/utils/health-check/"]["get"]["responses"]["200"]["content"]["application/json"];

/** Asks the backend whether it is up. */
export async function healthCheck(): Promise<Health> {
  const response = await fetch(`${apiUrl}/api/v1/utils/health-check/`);
  if (!response.ok) throw new Error(`health check failed: ${response.status}`);
  return (await response.json()) as Health;
}

/** Lists the signed-in user's items. */
export async function listItems(token: string): Promise<ItemPublic[]> {
  const response = await fetch(`${apiUrl}/api/v1/items/`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  if (!response.ok) throw new Error(`listing items failed: ${response.status}`);
  const body = (await response.json()) as components["schemas"]["ItemsPublic"];
  return body.data;
}
