// A type-checked example of the generated client: store a traveller and a booking, then read
// the traveller back. client/typescript_test.go generates gen/ and compiles this file against it,
// so a change to http/openapi.json that breaks TypeScript callers fails the tests.
import { createClient } from './gen/client';
import { createRecord, createSubject, getSubject } from './gen/sdk.gen';
import type { Subject } from './gen/types.gen';

export async function storeTraveller(baseUrl: string, token: string): Promise<Subject> {
  const client = createClient({ baseUrl, auth: () => token });
  const created = await createSubject({
    client,
    body: { ref: 'B-1042', email: 'kari@example.com', name: 'Kari Nordmann' },
    throwOnError: true,
  });
  await createRecord({
    client,
    path: { id: created.data.id },
    body: { category: 'booking', data: { destination: 'Tromsø', nights: 3, insured: true } },
    throwOnError: true,
  });
  const read = await getSubject({ client, path: { id: created.data.id }, throwOnError: true });
  return read.data;
}
