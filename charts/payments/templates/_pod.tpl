{{/*
Pieces of every pod: security contexts, the writable /tmp, probes, environment, scheduling.
*/}}

{{- define "payments.podSecurityContext" -}}
securityContext: {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end -}}

{{- define "payments.containerSecurityContext" -}}
securityContext: {{- toYaml .Values.containerSecurityContext | nindent 2 }}
{{- end -}}

{{/* The root filesystem is read-only: Python and the libraries write only under /tmp. */}}
{{- define "payments.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- end -}}

{{- define "payments.tmpVolumeMount" -}}
- name: tmp
  mountPath: /tmp
{{- end -}}

{{/* An httpGet probe: (dict "name" "livenessProbe" "probe" .values.livenessProbe "path" "/health" "port" "metrics"). */}}
{{- define "payments.probe" -}}
{{- if .probe.enabled }}
{{ .name }}:
  httpGet:
    path: {{ .path }}
    port: {{ .port }}
  {{- toYaml (omit .probe "enabled") | nindent 2 }}
{{- end }}
{{- end -}}

{{/* env entries from a Secret key each: (dict "root" $ "keys" (list "DATABASE_URL")). */}}
{{- define "payments.secretEnv" -}}
{{- $secret := include "payments.secretName" .root -}}
{{- range .keys }}
- name: {{ . }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ . }}
{{- end }}
{{- end -}}

{{/* The secret keys a process reads, plus static AWS credentials when configured. */}}
{{- define "payments.secretKeys" -}}
{{- $keys := .keys -}}
{{- if and .aws .root.Values.aws.staticCredentials -}}
{{- $keys = concat $keys (list "AWS_ACCESS_KEY_ID" "AWS_SECRET_ACCESS_KEY") -}}
{{- end -}}
{{- toJson $keys -}}
{{- end -}}

{{/*
A container's env: the chart's variables, the component's `env` map (which may not redefine a
chart variable: that would hide it silently), the secrets, then `extraEnv`.
(dict "root" $ "component" "api" "values" .Values.api "env" dict "secretKeys" list)
*/}}
{{- define "payments.env" -}}
{{- $component := .component -}}
{{- range $name, $_ := .values.env }}
{{- if hasKey $.env $name }}
{{- fail (printf "%s.env.%s: set by the chart from a typed value; change that value instead" $component $name) }}
{{- end }}
{{- end }}
{{- range $name := keys .env | sortAlpha }}
- name: {{ $name }}
  value: {{ get $.env $name | toString | quote }}
{{- end }}
{{- if .root.Values.config.tracing.otlpEndpoint }}
{{ include "payments.tracingEnv" . }}
{{- end }}
{{- range $name := keys .values.env | sortAlpha }}
- name: {{ $name }}
  value: {{ get $.values.env $name | toString | quote }}
{{- end }}
{{- include "payments.secretEnv" (dict "root" .root "keys" .secretKeys) }}
{{- with .values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Who the spans come from: payments-api, payments-worker, payments-processor,
payments-webhook-sender (the names the processes use outside Kubernetes too), and which pod. */}}
{{- define "payments.tracingEnv" -}}
- name: OTEL_SERVICE_NAME
  value: {{ printf "payments-%s" (trimPrefix "payment-" .component) | quote }}
- name: K8S_POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ printf "k8s.pod.name=$(K8S_POD_NAME),k8s.namespace.name=%s,service.namespace=%s,service.version=%s" .root.Release.Namespace .root.Release.Name .root.Chart.AppVersion | quote }}
{{- end -}}

{{/* Affinity: the component's own, else the anti-affinity preset across nodes. */}}
{{- define "payments.affinity" -}}
{{- if .values.affinity }}
affinity: {{- toYaml .values.affinity | nindent 2 }}
{{- else if .values.podAntiAffinityPreset }}
affinity:
  podAntiAffinity:
    {{- if eq .values.podAntiAffinityPreset "hard" }}
    requiredDuringSchedulingIgnoredDuringExecution:
      - topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels: {{- include "payments.componentSelectorLabels" . | nindent 12 }}
    {{- else }}
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels: {{- include "payments.componentSelectorLabels" . | nindent 14 }}
    {{- end }}
{{- end }}
{{- end -}}

{{- define "payments.scheduling" -}}
{{- include "payments.affinity" . }}
{{- with .values.nodeSelector }}
nodeSelector: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.topologySpreadConstraints }}
topologySpreadConstraints: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- end -}}

{{- define "payments.imagePullSecrets" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets: {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
