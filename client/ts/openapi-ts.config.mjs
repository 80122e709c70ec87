// Generates the TypeScript client into gen/ (not committed); tsconfig.json type-checks it.
export default {
  input: '../../http/openapi.json',
  output: 'gen',
  plugins: ['@hey-api/client-fetch', '@hey-api/typescript', '@hey-api/sdk'],
};
