{{/*
Names, labels and small lookups every template shares.
*/}}

{{- define "payments.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* "<release>-<chart>", or the release name alone when it already contains the chart name. */}}
{{- define "payments.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A component's resource name: (dict "root" $ "component" "api"). */}}
{{- define "payments.componentName" -}}
{{- printf "%s-%s" (include "payments.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "payments.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels: name and instance only, so they never change across upgrades. */}}
{{- define "payments.selectorLabels" -}}
app.kubernetes.io/name: {{ include "payments.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "payments.labels" -}}
helm.sh/chart: {{ include "payments.chart" . }}
{{ include "payments.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: {{ include "payments.name" . }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* (dict "root" $ "component" "api") */}}
{{- define "payments.componentSelectorLabels" -}}
{{ include "payments.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "payments.componentLabels" -}}
{{ include "payments.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* metadata.annotations (at indent 2) from commonAnnotations and extra ones, or nothing:
(dict "root" $ "extra" map); call as {{- include ... }} right after the labels. */}}
{{- define "payments.annotations" -}}
{{- $all := merge (deepCopy (default dict .extra)) (deepCopy .root.Values.commonAnnotations) -}}
{{- with $all }}
  annotations:
    {{- toYaml . | nindent 4 }}
{{- end }}
{{- end -}}

{{/*
The four long-running components: label value -> values key. Templates that treat the
components alike range over this list.
*/}}
{{- define "payments.components" -}}
api: api
worker: worker
payment-processor: paymentProcessor
webhook-sender: webhookSender
{{- end -}}

{{/* The background components, whose health endpoint is also their metrics port. */}}
{{- define "payments.backgroundComponents" -}}
worker: worker
payment-processor: paymentProcessor
webhook-sender: webhookSender
{{- end -}}

{{- define "payments.consumers" -}}
payment-processor: paymentProcessor
webhook-sender: webhookSender
{{- end -}}

{{/* Image reference: (dict "root" $ "image" .Values.api.image). */}}
{{- define "payments.image" -}}
{{- $registry := .root.Values.image.registry -}}
{{- $repository := .image.repository -}}
{{- if $registry -}}
{{- $repository = printf "%s/%s" (trimSuffix "/" $registry) $repository -}}
{{- end -}}
{{- if .image.digest -}}
{{- printf "%s@%s" $repository .image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repository (.image.tag | default .root.Values.image.tag | default .root.Chart.AppVersion | toString) -}}
{{- end -}}
{{- end -}}

{{- define "payments.imagePullPolicy" -}}
{{- .image.pullPolicy | default .root.Values.image.pullPolicy -}}
{{- end -}}

{{/* The Secret every pod reads: the existing one, or the chart's. */}}
{{- define "payments.secretName" -}}
{{- .Values.secrets.existingSecret | default (include "payments.fullname" .) -}}
{{- end -}}

{{- define "payments.configMapName" -}}
{{- include "payments.fullname" . -}}
{{- end -}}

{{/* ServiceAccount of a component: (dict "root" $ "component" "api" "values" .Values.api). */}}
{{- define "payments.serviceAccountName" -}}
{{- if .values.serviceAccount.create -}}
{{- .values.serviceAccount.name | default (include "payments.componentName" .) -}}
{{- else -}}
{{- .values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{/* Is KEDA scaling this consumer? (dict "root" $ "values" .Values.paymentProcessor) -> "true"/"" */}}
{{- define "payments.kedaScaled" -}}
{{- $keda := .values.keda | default dict -}}
{{- if and .root.Values.keda.enabled $keda.enabled -}}true{{- end -}}
{{- end -}}

{{/*
The SQS queue URL KEDA watches: the consumer's keda.queueURL, else its queue when that is a
URL, else built from config.aws (the emulator's endpoint, or the regional AWS endpoint).
*/}}
{{- define "payments.queueURL" -}}
{{- $aws := .root.Values.config.aws -}}
{{- if .values.keda.queueURL -}}
{{- .values.keda.queueURL -}}
{{- else if contains "://" .values.queue -}}
{{- .values.queue -}}
{{- else -}}
{{- $base := $aws.endpointUrl | default (printf "https://sqs.%s.amazonaws.com" $aws.region) -}}
{{- printf "%s/%s/%s" (trimSuffix "/" $base) (toString $aws.accountId) .values.queue -}}
{{- end -}}
{{- end -}}

{{/* checksum/* annotations: pods restart when the configuration they read changes. */}}
{{- define "payments.configChecksums" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- if not .Values.secrets.existingSecret }}
checksum/secret: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end }}
{{- end -}}

{{- define "payments.hookSecretName" -}}
{{- printf "%s-hooks" (include "payments.fullname" .) -}}
{{- end -}}

{{- define "payments.hookServiceAccountName" -}}
{{- printf "%s-hooks" (include "payments.fullname" .) -}}
{{- end -}}

{{/* The Secret the hook Jobs read: the existing one, else the hook-scoped copy. */}}
{{- define "payments.hookSecretRef" -}}
{{- .Values.secrets.existingSecret | default (include "payments.hookSecretName" .) -}}
{{- end -}}

{{/*
Secret data (base64), empty values left out: (dict "root" $ "keys" (list ...)); no keys: all.
*/}}
{{- define "payments.secretData" -}}
{{- $s := .root.Values.secrets -}}
{{- $all := dict "DATABASE_URL" $s.databaseUrl "ADMIN_API_TOKEN" $s.adminApiToken "WEBHOOK_ENCRYPTION_KEY" $s.webhookEncryptionKey -}}
{{- if .root.Values.aws.staticCredentials -}}
{{- $_ := set $all "AWS_ACCESS_KEY_ID" $s.awsAccessKeyId -}}
{{- $_ := set $all "AWS_SECRET_ACCESS_KEY" $s.awsSecretAccessKey -}}
{{- end -}}
{{- $keys := .keys | default (keys $all) -}}
{{- range $key := $keys | sortAlpha }}
{{- with get $all $key }}
{{ $key }}: {{ . | toString | b64enc | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* One NetworkPolicy egress rule from {to, ports} (extraEgress rules pass through); an empty
`to` means any destination, so the ports alone restrict it. */}}
{{- define "payments.egressRule" -}}
{{- $rule := dict -}}
{{- range $field, $value := . -}}
{{- if $value }}{{ $_ := set $rule $field $value }}{{ end -}}
{{- end -}}
{{- toYaml $rule -}}
{{- end -}}
