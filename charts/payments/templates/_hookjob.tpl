{{/*
A hook Job on the api image: (dict "root" $ "component" "migrations" "values" .Values.migrations
"weight" "0" "env" dict "secretKeys" list). It reads no ConfigMap (none exists yet on a first
install): its plain variables are inlined, its secrets come from the hook Secret.
*/}}
{{- define "payments.hookJob" -}}
{{- $root := .root -}}
{{- $values := .values -}}
{{- $ctx := dict "root" $root "component" .component -}}
{{- $secret := include "payments.hookSecretRef" $root -}}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ include "payments.componentName" $ctx }}
  namespace: {{ $root.Release.Namespace }}
  labels: {{- include "payments.componentLabels" $ctx | nindent 4 }}
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: {{ .weight | quote }}
    # Deleted once it succeeds; a failed Job stays for its logs (and the alert) until the next run.
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
    {{- with $root.Values.commonAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  backoffLimit: {{ $values.backoffLimit }}
  activeDeadlineSeconds: {{ $values.activeDeadlineSeconds }}
  template:
    metadata:
      labels: {{- include "payments.componentLabels" $ctx | nindent 8 }}
    spec:
      restartPolicy: Never
      serviceAccountName: {{ include "payments.hookServiceAccountName" $root }}
      automountServiceAccountToken: false
      {{- if $root.Values.hostNetwork }}
      hostNetwork: true
      dnsPolicy: ClusterFirstWithHostNet
      {{- end }}
      enableServiceLinks: false
      {{- with include "payments.imagePullSecrets" $root | trim }}
      {{- . | nindent 6 }}
      {{- end }}
      {{- include "payments.podSecurityContext" $root | nindent 6 }}
      {{- with $root.Values.api.nodeSelector }}
      nodeSelector: {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $root.Values.api.tolerations }}
      tolerations: {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ .component }}
          image: {{ include "payments.image" (dict "root" $root "image" $root.Values.api.image) | quote }}
          imagePullPolicy: {{ include "payments.imagePullPolicy" (dict "root" $root "image" $root.Values.api.image) }}
          command: {{- toYaml $values.command | nindent 12 }}
          {{- with $values.args }}
          args: {{- toYaml . | nindent 12 }}
          {{- end }}
          env:
            {{- range $name := keys .env | sortAlpha }}
            - name: {{ $name }}
              value: {{ get $.env $name | toString | quote }}
            {{- end }}
            {{- /* Optional: a missing key then fails the Job at once with the process's own
            "DATABASE_URL is required but not set" instead of leaving the pod in
            CreateContainerConfigError while Helm waits out its timeout. */}}
            {{- range .secretKeys }}
            - name: {{ . }}
              valueFrom:
                secretKeyRef:
                  name: {{ $secret }}
                  key: {{ . }}
                  optional: true
            {{- end }}
          resources: {{- toYaml $values.resources | nindent 12 }}
          {{- include "payments.containerSecurityContext" $root | nindent 10 }}
          volumeMounts:
            {{- include "payments.tmpVolumeMount" $root | nindent 12 }}
      volumes:
        {{- include "payments.tmpVolume" $root | nindent 8 }}
{{- end -}}
