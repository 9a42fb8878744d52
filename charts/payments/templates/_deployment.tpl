{{/*
The Deployment of one component; each component's template passes what differs:
  root, component, values        the release, the label value, the component's values
  env, secretKeys                the chart's plain variables (dict) and the Secret keys (list)
  ports                          [{name, port}] container ports; probePort names the probed one
  startupPath, livenessPath, readinessPath
  scaledElsewhere                true when an HPA or KEDA owns spec.replicas
  preStopSleepSeconds            0 for none
*/}}
{{- define "payments.deployment" -}}
{{- $root := .root -}}
{{- $values := .values -}}
{{- $ctx := dict "root" $root "component" .component "values" $values -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "payments.componentName" $ctx }}
  namespace: {{ $root.Release.Namespace }}
  labels: {{- include "payments.componentLabels" $ctx | nindent 4 }}
  {{- include "payments.annotations" (dict "root" $root) }}
spec:
  {{- if not .scaledElsewhere }}
  replicas: {{ $values.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels: {{- include "payments.componentSelectorLabels" $ctx | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 25%
      maxUnavailable: 0
  template:
    metadata:
      labels:
        {{- include "payments.componentLabels" $ctx | nindent 8 }}
        {{- with $values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        {{- include "payments.configChecksums" $root | nindent 8 }}
        {{- with $values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "payments.serviceAccountName" $ctx }}
      # No process talks to the Kubernetes API. IRSA projects its own token regardless.
      automountServiceAccountToken: false
      {{- if $root.Values.hostNetwork }}
      hostNetwork: true
      dnsPolicy: ClusterFirstWithHostNet
      {{- end }}
      # Service links would inject variables such as API_PORT=tcp://... for Services in the
      # namespace, which the settings would read.
      enableServiceLinks: false
      {{- with include "payments.imagePullSecrets" $root | trim }}
      {{- . | nindent 6 }}
      {{- end }}
      {{- include "payments.podSecurityContext" $root | nindent 6 }}
      terminationGracePeriodSeconds: {{ $values.terminationGracePeriodSeconds }}
      {{- with include "payments.scheduling" $ctx | trim }}
      {{- . | nindent 6 }}
      {{- end }}
      containers:
        - name: {{ .component }}
          image: {{ include "payments.image" (dict "root" $root "image" $values.image) | quote }}
          imagePullPolicy: {{ include "payments.imagePullPolicy" (dict "root" $root "image" $values.image) }}
          {{- with $values.command }}
          command: {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- with $values.args }}
          args: {{- toYaml . | nindent 12 }}
          {{- end }}
          ports:
            {{- range .ports }}
            - name: {{ .name }}
              containerPort: {{ .port }}
              protocol: TCP
            {{- end }}
          envFrom:
            - configMapRef:
                name: {{ include "payments.configMapName" $root }}
          env:
            {{- include "payments.env" (dict "root" $root "component" .component "values" $values "env" .env "secretKeys" .secretKeys) | trim | nindent 12 }}
          {{- $probePort := .probePort }}
          {{- range $probe := list (list "startupProbe" .startupPath) (list "livenessProbe" .livenessPath) (list "readinessProbe" .readinessPath) }}
          {{- with include "payments.probe" (dict "name" (first $probe) "probe" (get $values (first $probe)) "path" (last $probe) "port" $probePort) | trim }}
          {{- . | nindent 10 }}
          {{- end }}
          {{- end }}
          {{- if .preStopSleepSeconds }}
          lifecycle:
            preStop:
              sleep:
                seconds: {{ .preStopSleepSeconds }}
          {{- end }}
          resources: {{- toYaml $values.resources | nindent 12 }}
          {{- include "payments.containerSecurityContext" $root | nindent 10 }}
          volumeMounts:
            {{- include "payments.tmpVolumeMount" $root | nindent 12 }}
      volumes:
        {{- include "payments.tmpVolume" $root | nindent 8 }}
{{- end -}}
