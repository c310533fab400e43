# Renders an NBody (or MD) snapshot through its XDMF sidecar with ParaView: particles as points coloured by speed,
# velocity arrows on a subset. Run by scripts/render-snapshot.sh (pvpython under a virtual X server).
import sys
from paraview.simple import (XDMFReader, Calculator, MaskPoints, Glyph, Show, GetActiveViewOrCreate, ColorBy,
                             GetColorTransferFunction, GetScalarBar, SaveScreenshot, Text)

xdmf, png, title = sys.argv[1], sys.argv[2], sys.argv[3]
reader = XDMFReader(FileNames=[xdmf])
reader.UpdatePipeline()
points = reader.GetDataInformation().GetNumberOfPoints()
speed = Calculator(Input=reader, ResultArrayName='speed', Function='mag(vel)')

view = GetActiveViewOrCreate('RenderView')
view.ViewSize = [1200, 900]
view.Background = [1, 1, 1]
try:
    view.UseColorPaletteForBackground = 0
except AttributeError:
    pass
view.OrientationAxesVisibility = 1

shown = Show(speed, view)
shown.SetRepresentationType('Points')
shown.PointSize = 5
shown.RenderPointsAsSpheres = 1
ColorBy(shown, ('POINTS', 'speed'))
lut = GetColorTransferFunction('speed')
lut.ApplyPreset('Viridis (matplotlib)', True)
shown.SetScalarBarVisibility(view, True)
bar = GetScalarBar(lut, view)
bar.Title = 'speed'
bar.ComponentTitle = ''
bar.TitleColor = [0, 0, 0]
bar.LabelColor = [0, 0, 0]

# Velocity arrows on every 8th particle, scaled by speed.
subset = MaskPoints(Input=speed, OnRatio=8, GenerateVertices=0, MaximumNumberofPoints=100000)
arrows = Glyph(Input=subset, GlyphType='Arrow')
arrows.OrientationArray = ['POINTS', 'vel']
arrows.ScaleArray = ['POINTS', 'speed']
arrows.ScaleFactor = 0.2
arrow_view = Show(arrows, view)
ColorBy(arrow_view, ('POINTS', 'speed'))

label = Text(Text=f'{title}: {points} particles (points: pos, colour and arrows: vel)')
label_view = Show(label, view)
label_view.Color = [0, 0, 0]
label_view.FontSize = 14

# Frame the core (Plummer scale radius ~0.6): a few escapers far out would otherwise shrink it to a dot.
view.CameraPosition = [3.6, 2.7, 5.0]
view.CameraFocalPoint = [0, 0, 0]
view.CameraViewUp = [0, 1, 0]
view.CameraViewAngle = 30
SaveScreenshot(png, view, ImageResolution=[1200, 900])
print(f'{png}: {points} points rendered from {xdmf}')
