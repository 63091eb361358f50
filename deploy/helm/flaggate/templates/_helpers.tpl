{{- define "flaggate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "flaggate.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "flaggate.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "flaggate.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "flaggate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "flaggate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "flaggate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "flaggate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: {{ .Values.mode }}
app.kubernetes.io/part-of: flaggate
{{- end }}

{{- define "flaggate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "flaggate.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "flaggate.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Where each Secret is mounted; config paths must point here. */}}
{{- define "flaggate.dataDir" -}}
{{- .Values.config.dataDir | default "/var/lib/flaggate" }}
{{- end }}

{{- define "flaggate.validate" -}}
{{- if not (has .Values.mode (list "gateway" "sidecar")) }}
{{- fail "mode must be gateway or sidecar" }}
{{- end }}
{{- if and (eq .Values.mode "gateway") (lt (int .Values.gateway.replicas) 2) }}
{{- fail "gateway.replicas must be at least 2" }}
{{- end }}
{{- if and (eq .Values.mode "gateway") (not .Values.secrets.postgres.name) }}
{{- fail "gateway mode shares one PostgreSQL ledger: set secrets.postgres.name" }}
{{- end }}
{{- if and .Values.secrets.auditKeys.name (ne (.Values.config.audit.keysDir | default "") "/etc/flaggate/audit-keys") }}
{{- fail "config.audit.keysDir must be /etc/flaggate/audit-keys when secrets.auditKeys.name is set" }}
{{- end }}
{{- if and (eq (toString .Values.config.mode) "production") (not .Values.secrets.policyVerificationKey.name) (not (dig "policy" "verificationKey" "" .Values.config)) }}
{{- fail "production mode loads only signed policy bundles: set secrets.policyVerificationKey.name (or config.policy.verificationKey)" }}
{{- end }}
{{- if ne (toString .Values.config.host) "0.0.0.0" }}
{{- fail "config.host must be 0.0.0.0 in a pod (the probes and the Services reach the pod's address)" }}
{{- end }}
{{- end }}

{{/* The flaggate container, shared by both modes. */}}
{{- define "flaggate.container" -}}
- name: flaggate
  image: {{ include "flaggate.image" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  args: ["serve"]
  env:
    - name: FLAGGATE_CONFIG
      value: /etc/flaggate/config/config.yaml
    {{- if eq .Values.mode "gateway" }}
    # One chain per pod: a new pod (and its new emptyDir) starts a new chain, never a cut one.
    - name: FLAGGATE_CHAIN_ID
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
    {{- end }}
    {{- /* Credentials come from Secret files (*_FILE), never from the environment's values. */}}
    {{- if .Values.secrets.platform.name }}
    - name: FLAGGATE_TARGET_TOKEN_FILE
      value: /etc/flaggate/platform/{{ .Values.secrets.platform.key }}
    {{- end }}
    {{- if .Values.secrets.postgres.name }}
    - name: FLAGGATE_UPSTREAM_POSTGRES_URL_FILE
      value: /etc/flaggate/postgres/{{ .Values.secrets.postgres.key }}
    {{- end }}
    {{- if .Values.secrets.policyVerificationKey.name }}
    - name: FLAGGATE_POLICY_VERIFICATION_KEY
      value: /etc/flaggate/policy-key/{{ .Values.secrets.policyVerificationKey.key }}
    {{- end }}
  ports:
    - name: proxy
      containerPort: {{ .Values.config.proxyPort }}
      protocol: TCP
    - name: control
      containerPort: {{ .Values.config.controlPort }}
      protocol: TCP
  startupProbe:
    httpGet: { path: /healthz, port: control }
    {{- toYaml .Values.probes.startup | nindent 4 }}
  livenessProbe:
    httpGet: { path: /healthz, port: control }
    {{- toYaml .Values.probes.liveness | nindent 4 }}
  readinessProbe:
    httpGet: { path: /readyz, port: control }
    {{- toYaml .Values.probes.readiness | nindent 4 }}
  resources:
    {{- toYaml .Values.resources | nindent 4 }}
  securityContext:
    allowPrivilegeEscalation: false
    readOnlyRootFilesystem: true
    runAsNonRoot: true
    capabilities:
      drop: [ALL]
    seccompProfile:
      type: RuntimeDefault
  volumeMounts:
    - name: config
      mountPath: /etc/flaggate/config
      readOnly: true
    - name: data
      mountPath: {{ include "flaggate.dataDir" . }}
    - name: tmp
      mountPath: /tmp
    {{- if .Values.secrets.platform.name }}
    - name: platform-credential
      mountPath: /etc/flaggate/platform
      readOnly: true
    {{- end }}
    {{- if .Values.secrets.postgres.name }}
    - name: postgres-url
      mountPath: /etc/flaggate/postgres
      readOnly: true
    {{- end }}
    {{- if .Values.secrets.auditKeys.name }}
    - name: audit-keys
      mountPath: /etc/flaggate/audit-keys
      readOnly: true
    {{- end }}
    {{- if .Values.secrets.policyVerificationKey.name }}
    - name: policy-key
      mountPath: /etc/flaggate/policy-key
      readOnly: true
    {{- end }}
    {{- if .Values.secrets.tsa.name }}
    - name: tsa
      mountPath: {{ include "flaggate.dataDir" . }}/tsa
      readOnly: true
    {{- end }}
    {{- if .Values.secrets.oidc.name }}
    - name: oidc
      mountPath: /etc/flaggate/oidc
      readOnly: true
    {{- end }}
{{- end }}

{{/* Pod-level settings and the volumes both modes share (data is added by each mode). */}}
{{- define "flaggate.podSpecCommon" -}}
serviceAccountName: {{ include "flaggate.serviceAccountName" . }}
automountServiceAccountToken: false
enableServiceLinks: false
terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  runAsNonRoot: true
  runAsUser: 1000
  runAsGroup: 1000
  fsGroup: 1000
  fsGroupChangePolicy: OnRootMismatch
  seccompProfile:
    type: RuntimeDefault
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{- define "flaggate.secretVolumes" -}}
- name: config
  configMap:
    name: {{ include "flaggate.fullname" . }}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- if .Values.secrets.platform.name }}
- name: platform-credential
  secret:
    secretName: {{ .Values.secrets.platform.name }}
    defaultMode: 0400
    items:
      - key: {{ .Values.secrets.platform.key }}
        path: {{ .Values.secrets.platform.key }}
{{- end }}
{{- if .Values.secrets.postgres.name }}
- name: postgres-url
  secret:
    secretName: {{ .Values.secrets.postgres.name }}
    defaultMode: 0400
    items:
      - key: {{ .Values.secrets.postgres.key }}
        path: {{ .Values.secrets.postgres.key }}
{{- end }}
{{- if .Values.secrets.auditKeys.name }}
- name: audit-keys
  secret:
    secretName: {{ .Values.secrets.auditKeys.name }}
    defaultMode: 0400
{{- end }}
{{- if .Values.secrets.policyVerificationKey.name }}
- name: policy-key
  secret:
    secretName: {{ .Values.secrets.policyVerificationKey.name }}
    defaultMode: 0400
    items:
      - key: {{ .Values.secrets.policyVerificationKey.key }}
        path: {{ .Values.secrets.policyVerificationKey.key }}
{{- end }}
{{- if .Values.secrets.tsa.name }}
- name: tsa
  secret:
    secretName: {{ .Values.secrets.tsa.name }}
    defaultMode: 0400
{{- end }}
{{- if .Values.secrets.oidc.name }}
- name: oidc
  secret:
    secretName: {{ .Values.secrets.oidc.name }}
    defaultMode: 0444
{{- end }}
{{- end }}
